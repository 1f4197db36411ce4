//! The body of a response: where it comes from (ferry's HTTP/1.1
//! connection or hyper's HTTP/2), its decoding, and the connection given
//! back to the pool at its end.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::decode::{Decoder, Step};
use crate::error::{Error, Kind, Stage};
use crate::h1::{bounded, Deadline, Failure, H1Body, Wait};
use crate::pool::{Conn, Pool, Sender};
use crate::route::PoolKey;

/// Gives an HTTP/1.1 connection back to the pool once its response body has
/// been read to the end (never earlier: the connection is busy until then).
pub(crate) struct GiveBack {
    pub(crate) pool: Arc<Pool>,
    pub(crate) key: PoolKey,
    pub(crate) conn: Conn,
}

/// Where a response body comes from: ferry's own HTTP/1.1 connection, or
/// hyper's HTTP/2.
pub(crate) enum Source {
    H1(H1Body),
    H2(Incoming),
}

impl Source {
    fn is_end(&self) -> bool {
        match self {
            Source::H1(body) => body.is_end(),
            Source::H2(incoming) => hyper::body::Body::is_end_stream(incoming),
        }
    }

    /// The next piece of the body (trailers are skipped), waiting at most
    /// what `wait` allows for each read.
    pub(crate) async fn data(&mut self, wait: Wait) -> Result<Option<Bytes>, Error> {
        match self {
            Source::H2(incoming) => loop {
                let frame = bounded(wait, incoming.frame())
                    .await
                    .map_err(|(phase, d)| {
                        Error::timeout(phase, d).during(Stage::Body, "reading the response body")
                    })?;
                match frame {
                    None => return Ok(None),
                    Some(Err(e)) => {
                        return Err(Error::new(
                            Kind::Body,
                            format!("reading the response body: {e}"),
                        )
                        .with_source(e))
                    }
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            return Ok(Some(data));
                        }
                    }
                }
            },
            Source::H1(body) => body.next(wait).await.map_err(|f| match f {
                Failure::Timeout(phase, d) => {
                    Error::timeout(phase, d).during(Stage::Body, "reading the response body")
                }
                f => {
                    Error::new(Kind::Body, format!("reading the response body: {f}")).with_source(f)
                }
            }),
        }
    }

    /// After the body's end: puts an HTTP/1.1 connection back into `conn`,
    /// if it can carry another request.
    pub(crate) fn restore(&mut self, conn: &mut Conn) {
        if let (Source::H1(body), Sender::H1(slot)) = (self, &mut conn.sender) {
            *slot = body.take_reusable();
        }
    }
}

pub(crate) struct ResponseBody {
    source: Source,
    give_back: Option<GiveBack>,
    read_timeout: Option<Duration>,
    deadline: Option<Deadline>,
    // Boxed: a decoder is large, and the response moves through every
    // layer of the request path by value.
    decoder: Option<Box<Decoder>>,
    /// Whether there was a decoder (it is gone once the body has ended).
    decoded: bool,
}

impl ResponseBody {
    pub(crate) fn new(
        source: Source,
        give_back: Option<GiveBack>,
        read_timeout: Option<Duration>,
        deadline: Option<Deadline>,
        decoder: Option<Box<Decoder>>,
    ) -> ResponseBody {
        let mut body = ResponseBody {
            source,
            give_back,
            read_timeout,
            deadline,
            decoded: decoder.is_some(),
            decoder,
        };
        if body.source.is_end() {
            body.finish();
        }
        body
    }

    /// Whether the body is decoded from a content coding.
    pub(super) fn decoded(&self) -> bool {
        self.decoded
    }

    fn finish(&mut self) {
        if let Some(mut g) = self.give_back.take() {
            self.source.restore(&mut g.conn);
            g.pool.checkin(g.key, g.conn);
        }
    }

    /// The next piece of the body: decoded, when it has a coding ferry
    /// undoes. Compressed chunks are read only as the decoder asks for them,
    /// and each gives out at most a bounded piece a call.
    pub(super) async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            let step = match self.decoder.as_mut() {
                None => return self.raw_chunk().await,
                Some(decoder) => decoder.next().map_err(decode_error)?,
            };
            match step {
                Step::Piece(piece) => return Ok(Some(piece)),
                Step::NeedInput => {
                    let data = self.raw_chunk().await?;
                    let decoder = self.decoder.as_mut().expect("matched above");
                    match data {
                        Some(data) => decoder.give(data),
                        None => decoder.end(),
                    }
                }
                Step::End => {
                    // The rest of the body must be empty (a chunked body's
                    // last chunk may come after the stream's end): reading
                    // it puts the connection back in the pool.
                    while let Some(rest) = self.raw_chunk().await? {
                        if !rest.is_empty() {
                            self.give_back = None;
                            if let Some(decoder) = self.decoder.as_mut() {
                                decoder.fail();
                            }
                            return Err(decode_error(crate::decode::trailing()));
                        }
                    }
                    self.decoder = None;
                    return Ok(None);
                }
            }
        }
    }

    /// The next chunk of the body as it came.
    async fn raw_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            let wait = Wait::new(self.read_timeout, self.deadline);
            let data = match self.source.data(wait).await {
                Ok(data) => data,
                Err(e) => {
                    self.give_back = None;
                    return Err(e);
                }
            };
            let Some(data) = data else {
                self.finish();
                return Ok(None);
            };
            if self.source.is_end() {
                self.finish();
            }
            if !data.is_empty() {
                return Ok(Some(data));
            }
        }
    }
}

fn decode_error(e: std::io::Error) -> Error {
    Error::new(
        Kind::Decode,
        format!("decompressing the response body: {e}"),
    )
    .with_source(e)
}
