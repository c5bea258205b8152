//! A minimal HTTP/1.1 client for the load generator: one keep-alive TCP connection, one
//! request at a time, the request head and a small body sent in one `write`.
//!
//! Why not a general client: the thing measured is the server. A general blocking client hands
//! every request to a runtime thread and back (two thread wake-ups per request), which on a
//! 2-core machine is a large part of a 1-line write's round trip and would blur the difference
//! between servers. This one costs a `write` and a `read`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest response head accepted (status line + headers).
const HEAD_MAX: usize = 64 * 1024;
/// Bodies up to this size are copied behind the head so the request is one segment.
const COALESCE_MAX: usize = 64 * 1024;

/// `http://host:port[/...]` → `host:port` (the only form the load generator needs).
pub fn authority(url: &str) -> io::Result<String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("only http:// URLs are supported: {url}"),
        )
    })?;
    let host = rest.split('/').next().unwrap_or(rest);
    Ok(if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:80")
    })
}

/// A response: status and body (the body is read whole, so the connection stays usable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response body (de-chunked).
    pub body: Vec<u8>,
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    host: String,
    out: Vec<u8>,
    inbuf: Vec<u8>,
}

impl Conn {
    /// Connects to `host:port`.
    pub fn connect(authority: &str, timeout: Duration) -> io::Result<Conn> {
        let stream = TcpStream::connect(authority)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Conn {
            stream,
            host: authority.to_owned(),
            out: Vec::with_capacity(4096),
            inbuf: Vec::with_capacity(4096),
        })
    }

    /// Sends one request and reads its whole response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        self.out.clear();
        write!(
            self.out,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        )?;
        for (k, v) in headers {
            write!(self.out, "{k}: {v}\r\n")?;
        }
        self.out.extend_from_slice(b"\r\n");
        if body.len() <= COALESCE_MAX {
            self.out.extend_from_slice(body);
            self.stream.write_all(&self.out)?;
        } else {
            self.stream.write_all(&self.out)?;
            self.stream.write_all(body)?;
        }
        self.read_response()
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        // `read` is the one std call here that does not retry `EINTR` itself; a signal
        // landing in a wait for the response (seen once in an (e) run) is not an error.
        let n = loop {
            match self.stream.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            ));
        }
        self.inbuf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    fn read_response(&mut self) -> io::Result<Response> {
        loop {
            let head_end = loop {
                if let Some(i) = find(&self.inbuf, b"\r\n\r\n") {
                    break i + 4;
                }
                if self.inbuf.len() > HEAD_MAX {
                    return Err(bad("response head too large"));
                }
                self.fill()?;
            };
            let head = std::str::from_utf8(&self.inbuf[..head_end])
                .map_err(|_| bad("response head is not UTF-8"))?
                .to_owned();
            self.inbuf.drain(..head_end);
            let mut lines = head.split("\r\n");
            let status: u16 = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("malformed status line"))?;
            let (mut length, mut chunked, mut close) = (None, false, false);
            for line in lines {
                let Some((k, v)) = line.split_once(':') else {
                    continue;
                };
                let v = v.trim();
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => {
                        length = Some(v.parse::<usize>().map_err(|_| bad("bad Content-Length"))?)
                    }
                    "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                    "connection" => close = v.eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
            // An interim 1xx response precedes the real one.
            if (100..200).contains(&status) {
                continue;
            }
            let body = if status == 204 || status == 304 {
                Vec::new()
            } else if chunked {
                self.read_chunked()?
            } else if let Some(n) = length {
                self.read_exact_body(n)?
            } else {
                // No length: the body runs to the end of the connection.
                loop {
                    match self.fill() {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(e),
                    }
                }
                close = true;
                std::mem::take(&mut self.inbuf)
            };
            if close {
                let _ = self.stream.shutdown(std::net::Shutdown::Both);
            }
            return Ok(Response { status, body });
        }
    }

    fn read_exact_body(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.inbuf.len() < n {
            self.fill()?;
        }
        Ok(self.inbuf.drain(..n).collect())
    }

    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.inbuf, b"\r\n") {
                    break i;
                }
                self.fill()?;
            };
            let size_text =
                std::str::from_utf8(&self.inbuf[..line_end]).map_err(|_| bad("bad chunk size"))?;
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            self.inbuf.drain(..line_end + 2);
            let chunk = self.read_exact_body(size + 2)?;
            if size == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-connection server that answers each request with the next canned response.
    fn canned(responses: Vec<&'static [u8]>) -> (String, std::thread::JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut seen = Vec::new();
            for r in responses {
                let mut buf = vec![0u8; 65536];
                let n = s.read(&mut buf).expect("read");
                seen.push(buf[..n].to_vec());
                s.write_all(r).expect("write");
            }
            seen
        });
        (addr, handle)
    }

    #[test]
    fn keep_alive_lengths_chunks_and_interim_responses() {
        let (addr, server) = canned(vec![
            b"HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        ]);
        let mut c = Conn::connect(&addr, Duration::from_secs(5)).expect("connect");
        let r = c
            .request(
                "POST",
                "/write?db=x",
                &[("Authorization", "Token t")],
                b"m v=1",
            )
            .expect("first");
        assert_eq!((r.status, r.body.len()), (204, 0));
        let r = c.request("POST", "/write", &[], b"bad").expect("second");
        assert_eq!((r.status, r.body.as_slice()), (400, b"hello".as_slice()));
        let r = c.request("GET", "/ping", &[], b"").expect("third");
        assert_eq!((r.status, r.body.as_slice()), (200, b"abcde".as_slice()));
        let seen = server.join().expect("server");
        let first = String::from_utf8_lossy(&seen[0]);
        assert!(
            first.starts_with("POST /write?db=x HTTP/1.1\r\n"),
            "{first}"
        );
        assert!(first.contains("Content-Length: 5\r\n"), "{first}");
        assert!(first.contains("Authorization: Token t\r\n"), "{first}");
        assert!(first.ends_with("\r\n\r\nm v=1"), "{first}");
    }

    #[test]
    fn authorities() {
        assert_eq!(
            authority("http://127.0.0.1:8086").expect("ok"),
            "127.0.0.1:8086"
        );
        assert_eq!(authority("http://localhost/x").expect("ok"), "localhost:80");
        assert!(authority("https://x").is_err());
    }
}
