//! HTTP answers as values: read from the emulator's bytes, rewritten, written to the caller.
//! The emulator closes the connection after each answer, so an answer is everything it sent.

/// One HTTP answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Response {
    pub status: u16,
    /// Names as sent; `Content-Length`, `Transfer-Encoding` and `Connection` are set on writing.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![
                ("Content-Type".to_string(), content_type.to_string()),
                ("x-amzn-RequestId".to_string(), super::shapes::request_id()),
            ],
            body: body.into(),
        }
    }

    /// Reads an answer; `None` when the bytes are not one (the caller then passes them on as they are).
    pub(crate) fn parse(bytes: &[u8]) -> Option<Response> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut head = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(length) = head.parse(bytes).ok()? else {
            return None;
        };
        let status = head.code?;
        let headers: Vec<(String, String)> = head
            .headers
            .iter()
            .map(|header| (header.name.to_string(), String::from_utf8_lossy(header.value).into_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(name, value)| name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked"));
        let rest = &bytes[length..];
        let body = if chunked { dechunk(rest)? } else { rest.to_vec() };
        let headers = headers
            .into_iter()
            .filter(|(name, _)| {
                !["content-length", "transfer-encoding", "connection"].contains(&name.to_ascii_lowercase().as_str())
            })
            .collect();
        Some(Response { status, headers, body })
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, crate::reason(self.status));
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", self.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    #[cfg(test)]
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
    }

    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(crate) fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    pub(crate) fn xml(&self) -> Option<super::xml::Element> {
        super::xml::Element::parse(&self.text())
    }

    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub(crate) fn set_xml(&mut self, root: &super::xml::Element) {
        self.body = root.to_document().into_bytes();
    }

    pub(crate) fn set_json(&mut self, value: &serde_json::Value) {
        self.body = value.to_string().into_bytes();
    }
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_plain_or_chunked_and_write_back_with_a_length() {
        let plain =
            Response::parse(b"HTTP/1.1 404 NOT FOUND\r\nContent-Type: text/xml\r\nContent-Length: 3\r\n\r\nabc")
                .expect("parses");
        assert_eq!(
            (plain.status, plain.body.as_slice(), plain.header("content-type")),
            (404, &b"abc"[..], Some("text/xml"))
        );
        let chunked =
            Response::parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
                .expect("parses");
        assert_eq!(chunked.body, b"abcde");
        let written = String::from_utf8(chunked.to_bytes()).unwrap();
        assert!(written.starts_with("HTTP/1.1 200 OK\r\n") && written.contains("Content-Length: 5\r\n"), "{written}");
        assert!(!written.contains("chunked") && written.ends_with("\r\n\r\nabcde"));
        assert!(Response::parse(b"garbage").is_none());
    }
}
