//! What a user does outside provision before a service deploys its image by digest, done in the
//! emulator itself as `scripts/demo` does: once provision has made the stack's image repositories
//! (`apply --target ecr_repository.NAME`), an image manifest is pushed into each under the stack's
//! tag — `docker push`'s effect — so that the plan finds the tag's digest.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// A repository a service deploys from by digest: its resource name and the tag it deploys.
pub struct Image {
    pub repository: String,
    pub tag: String,
}

/// The images the stack in `dir` deploys by digest (`image = "${ecr_repository.NAME.url}:TAG"`
/// without `pin_digest = false`), the tag's `${var.X}` resolved from the stack's defaults.
pub fn deployed_by_digest(dir: &Path) -> Vec<Image> {
    let text = std::fs::read_to_string(dir.join("stack.toml")).unwrap_or_default();
    let Ok(stack) = text.parse::<toml::Table>() else { return Vec::new() };
    let variable = |name: &str| -> Option<String> {
        let value = stack.get("variables")?.get(name)?;
        value.as_str().map(str::to_string).or_else(|| value.get("default")?.as_str().map(str::to_string))
    };
    let mut images = Vec::new();
    let services = stack.get("ecs_service").and_then(|s| s.as_table()).into_iter().flat_map(|t| t.values());
    for service in services {
        let Some(container) = service.get("container") else { continue };
        if container.get("pin_digest").and_then(|p| p.as_bool()) == Some(false) {
            continue;
        }
        let image = container.get("image").and_then(|i| i.as_str()).unwrap_or_default();
        let Some(rest) = image.strip_prefix("${ecr_repository.") else { continue };
        let Some((repository, tag)) = rest.split_once(".url}:") else { continue };
        let tag = match tag.strip_prefix("${var.").and_then(|t| t.strip_suffix('}')) {
            Some(name) => variable(name).unwrap_or_else(|| tag.to_string()),
            None => tag.to_string(),
        };
        if !images.iter().any(|i: &Image| i.repository == repository) {
            images.push(Image { repository: repository.to_string(), tag });
        }
    }
    images
}

/// Pushes a manifest of each image into its repository (named as the state in `dir` records it),
/// straight at the emulator; says what it could not push.
pub fn push(upstream: &str, dir: &Path, images: &[Image]) -> Result<(), String> {
    let stack_name = std::fs::read_to_string(dir.join("stack.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|stack| stack.get("stack")?.get("name")?.as_str().map(str::to_string))
        .ok_or("the stack has no `[stack] name`")?;
    let state_path = dir.join("state").join(format!("{stack_name}.json"));
    let state: serde_json::Value = std::fs::read_to_string(&state_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| format!("no state at {}", state_path.display()))?;
    for image in images {
        let address = format!("ecr_repository.{}", image.repository);
        let name = state["resources"][&address]["attributes"]["name"]
            .as_str()
            .ok_or_else(|| format!("the state has no name for {address}"))?;
        let config = format!("sha256:{}", hex::encode(Sha256::digest(format!("{name}:{}", image.tag))));
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": config},
            "layers": [],
        })
        .to_string();
        // The digest goes with the manifest: the emulator stores the empty string's otherwise.
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
        let body = serde_json::json!({
            "repositoryName": name, "imageManifest": manifest, "imageDigest": digest, "imageTag": image.tag,
        })
        .to_string();
        let answer = emulator_request(
            upstream,
            "ecr",
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.PutImage"),
            ],
            &body,
        )
        .map_err(|error| format!("PutImage {name}:{}: {error}", image.tag))?;
        if !answer.contains("imageId") {
            return Err(format!("PutImage {name}:{}: {answer}", image.tag));
        }
    }
    Ok(())
}

/// One request straight to the emulator, which reads the service from the credential scope (it
/// checks no signature); returns the answer's body.
pub fn emulator_request(
    upstream: &str,
    service: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<String> {
    let address = upstream.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address)?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(stream, "{request}\r\n{body}")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or(answer))
}
