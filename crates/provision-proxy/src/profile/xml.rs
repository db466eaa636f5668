//! A small XML tree for reading and rewriting AWS answers (query, EC2 and REST-XML protocols).
//!
//! The tokens come from `xmlparser`, the tokenizer aws-sdk-rust itself reads these answers with
//! (through `aws-smithy-xml`), so the proxy reads exactly what the SDK will, and nothing new is
//! compiled. AWS answers are plain documents: elements, attributes and text, no DTDs or mixed
//! content worth keeping, so a tree of [`Element`]s and text is all a rewrite needs. Answers the
//! profile does not change are passed on byte for byte; only a rewritten one is serialised again.

use xmlparser::{ElementEnd, Token, Tokenizer};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Element {
    /// With its prefix, if any (`xsi:type`).
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Node>,
}

fn qualified(prefix: &str, local: &str) -> String {
    if prefix.is_empty() {
        local.to_string()
    } else {
        format!("{prefix}:{local}")
    }
}

impl Element {
    pub(crate) fn new(name: &str) -> Element {
        Element { name: name.to_string(), ..Element::default() }
    }

    /// `<name>text</name>`.
    pub(crate) fn text_element(name: &str, text: &str) -> Element {
        let mut element = Element::new(name);
        element.set_text(text);
        element
    }

    /// The document's root element, or `None` when the text is not well-formed XML.
    pub(crate) fn parse(text: &str) -> Option<Element> {
        let mut stack: Vec<Element> = Vec::new();
        let mut root = None;
        for token in Tokenizer::from(text) {
            match token.ok()? {
                Token::ElementStart { prefix, local, .. } => stack.push(Element::new(&qualified(&prefix, &local))),
                Token::Attribute { prefix, local, value, .. } => {
                    stack.last_mut()?.attributes.push((qualified(&prefix, &local), unescape(&value)));
                }
                Token::ElementEnd { end: ElementEnd::Open, .. } => {}
                Token::ElementEnd { end: ElementEnd::Empty | ElementEnd::Close(..), .. } => {
                    let done = stack.pop()?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(done)),
                        None => root = Some(done),
                    }
                }
                Token::Text { text } => {
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(Node::Text(unescape(&text)));
                    }
                }
                Token::Cdata { text, .. } => {
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(Node::Text(text.to_string()));
                    }
                }
                _ => {}
            }
        }
        root.filter(|_| stack.is_empty())
    }

    /// The document, with an XML declaration.
    pub(crate) fn to_document(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (name, value) in &self.attributes {
            out.push_str(&format!(" {name}=\"{}\"", escape(value).replace('"', "&quot;")));
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for child in &self.children {
            match child {
                Node::Element(element) => element.write(out),
                Node::Text(text) => out.push_str(&escape(text)),
            }
        }
        out.push_str(&format!("</{}>", self.name));
    }

    /// The element's own text (its text children joined, trimmed).
    pub(crate) fn text(&self) -> String {
        let text: String = self
            .children
            .iter()
            .filter_map(|child| match child {
                Node::Text(text) => Some(text.as_str()),
                Node::Element(_) => None,
            })
            .collect();
        text.trim().to_string()
    }

    pub(crate) fn set_text(&mut self, text: &str) {
        self.children = vec![Node::Text(text.to_string())];
    }

    pub(crate) fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|child| match child {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    pub(crate) fn elements_mut(&mut self) -> impl Iterator<Item = &mut Element> {
        self.children.iter_mut().filter_map(|child| match child {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|element| element.name == name)
    }

    pub(crate) fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.elements_mut().find(|element| element.name == name)
    }

    /// The text of the child `name`, if there is one.
    pub(crate) fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(Element::text)
    }

    /// Sets the text of the child `name`, adding the child when it is missing.
    pub(crate) fn set_child_text(&mut self, name: &str, text: &str) {
        match self.child_mut(name) {
            Some(child) => child.set_text(text),
            None => self.push(Element::text_element(name, text)),
        }
    }

    pub(crate) fn remove_children(&mut self, name: &str) {
        self.children.retain(|child| !matches!(child, Node::Element(element) if element.name == name));
    }

    pub(crate) fn push(&mut self, element: Element) {
        self.children.push(Node::Element(element));
    }

    /// The element at this path of child names below this one (`[]`: itself).
    pub(crate) fn find(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |element, name| element.child(name))
    }

    pub(crate) fn find_mut(&mut self, path: &[&str]) -> Option<&mut Element> {
        let mut element = self;
        for name in path {
            element = element.child_mut(name)?;
        }
        Some(element)
    }

    /// The texts of every descendant named `name`, in document order.
    pub(crate) fn texts_of(&self, name: &str) -> Vec<String> {
        let mut found = Vec::new();
        self.visit(&mut |element| {
            if element.name == name {
                found.push(element.text());
            }
        });
        found
    }

    pub(crate) fn visit(&self, f: &mut dyn FnMut(&Element)) {
        f(self);
        for child in self.elements() {
            child.visit(f);
        }
    }

    pub(crate) fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Element)) {
        f(self);
        for child in self.elements_mut() {
            child.visit_mut(f);
        }
    }

    /// Takes the element children out, leaving text children (whitespace) behind.
    pub(crate) fn take_elements(&mut self) -> Vec<Element> {
        let children = std::mem::take(&mut self.children);
        let mut taken = Vec::new();
        for child in children {
            match child {
                Node::Element(element) => taken.push(element),
                text => self.children.push(text),
            }
        }
        taken
    }
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Resolves the five named entities and numeric character references.
pub(crate) fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let resolved = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if entity.starts_with("#x") => u32::from_str_radix(&entity[2..], 16).ok().and_then(char::from_u32),
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match resolved {
            Some(character) => {
                out.push(character);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_reads_rewrites_and_writes_back() {
        let text = r#"<?xml version="1.0"?><R xmlns="urn:x"><A>1 &amp; 2</A><B/><L><member><Id>a</Id></member><member><Id>b</Id></member></L><C><![CDATA[<raw>]]></C></R>"#;
        let mut root = Element::parse(text).expect("parses");
        assert_eq!(root.attributes, [("xmlns".to_string(), "urn:x".to_string())]);
        assert_eq!(root.child_text("A").as_deref(), Some("1 & 2"));
        assert_eq!(root.child_text("C").as_deref(), Some("<raw>"));
        assert_eq!(root.texts_of("Id"), ["a", "b"]);
        root.find_mut(&["L"]).unwrap().remove_children("member");
        root.set_child_text("B", "x<y");
        root.set_child_text("New", "n");
        let written = root.to_document();
        assert!(written.contains("<B>x&lt;y</B>") && written.contains("<L/>") && written.contains("<New>n</New>"));
        assert!(written.contains("<A>1 &amp; 2</A>") && written.contains("<C>&lt;raw&gt;</C>"), "{written}");
        assert_eq!(Element::parse(&written).unwrap().child_text("A").as_deref(), Some("1 & 2"));
    }

    #[test]
    fn broken_documents_and_entities() {
        assert!(Element::parse("<a><b></a>").is_none());
        assert!(Element::parse("<!doctype html><html>").is_none());
        assert_eq!(unescape("&#65;&#x42;&bogus;&"), "AB&bogus;&");
    }
}
