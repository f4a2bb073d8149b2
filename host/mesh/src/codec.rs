//! The `/r1/rpc/1` wire format: length-prefixed binary frames, no serde.
//!
//! request  = u32be total | u16be service length | service | body
//! response = u32be total | u8 status (0 ok, 1 error) | payload (body, or UTF-8 reason)

use std::io;

use futures::prelude::*;
use libp2p::StreamProtocol;
use libp2p::request_response;

use crate::MAX_RPC_BYTES;

#[derive(Debug, Clone)]
pub struct RpcRequest {
    pub service: String,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct RpcResponse {
    pub result: Result<Vec<u8>, String>,
}

#[derive(Debug, Clone, Default)]
pub struct BinaryCodec;

async fn read_len<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<usize> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_RPC_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "rpc frame too large",
        ));
    }
    Ok(len)
}

async fn read_exact_vec<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    len: usize,
) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let len = read_len(io).await?;
    read_exact_vec(io, len).await
}

/// Writes one frame: `head` (small: the length prefix is added to it, so both go out in one
/// write) then `body`.
async fn write_frame<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    head: &[u8],
    body: &[u8],
) -> io::Result<()> {
    let len = head.len() + body.len();
    if len > MAX_RPC_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "rpc frame too large",
        ));
    }
    let mut prefix = Vec::with_capacity(4 + head.len());
    prefix.extend_from_slice(&(len as u32).to_be_bytes());
    prefix.extend_from_slice(head);
    io.write_all(&prefix).await?;
    io.write_all(body).await?;
    io.close().await
}

impl request_response::Codec for BinaryCodec {
    type Protocol = StreamProtocol;
    type Request = RpcRequest;
    type Response = RpcResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<RpcRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let frame = read_frame(io).await?;
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed rpc request");
        let (len, rest) = frame.split_first_chunk::<2>().ok_or_else(bad)?;
        let len = u16::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return Err(bad());
        }
        let service = String::from_utf8(rest[..len].to_vec()).map_err(|_| bad())?;
        Ok(RpcRequest {
            service,
            body: rest[len..].to_vec(),
        })
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<RpcResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        // Status byte first, then the payload straight into its own buffer (no second copy of
        // a block-sized payload).
        let len = read_len(io).await?;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "empty rpc response",
            ));
        }
        let mut status = [0u8; 1];
        io.read_exact(&mut status).await?;
        let payload = read_exact_vec(io, len - 1).await?;
        let result = match status[0] {
            0 => Ok(payload),
            _ => Err(String::from_utf8_lossy(&payload).into_owned()),
        };
        Ok(RpcResponse { result })
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: RpcRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let len = u16::try_from(req.service.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "service name too long"))?;
        let mut head = Vec::with_capacity(2 + req.service.len());
        head.extend_from_slice(&len.to_be_bytes());
        head.extend_from_slice(req.service.as_bytes());
        write_frame(io, &head, &req.body).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: RpcResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match res.result {
            Ok(body) => write_frame(io, &[0], &body).await,
            Err(reason) => write_frame(io, &[1], reason.as_bytes()).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::request_response::Codec;

    fn protocol() -> StreamProtocol {
        StreamProtocol::new("/r1/rpc/1")
    }

    async fn response_round_trip(result: Result<Vec<u8>, String>) -> io::Result<RpcResponse> {
        let mut wire = futures::io::Cursor::new(Vec::new());
        BinaryCodec
            .write_response(&protocol(), &mut wire, RpcResponse { result })
            .await?;
        let mut read = futures::io::Cursor::new(wire.into_inner());
        BinaryCodec.read_response(&protocol(), &mut read).await
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let mut wire = futures::io::Cursor::new(Vec::new());
        let request = RpcRequest {
            service: "fs.block".into(),
            body: vec![7; 32],
        };
        BinaryCodec
            .write_request(&protocol(), &mut wire, request)
            .await
            .expect("write");
        let mut read = futures::io::Cursor::new(wire.into_inner());
        let back = BinaryCodec
            .read_request(&protocol(), &mut read)
            .await
            .expect("read");
        assert_eq!(
            (back.service.as_str(), back.body),
            ("fs.block", vec![7; 32])
        );

        let block: Vec<u8> = (0..1 << 20).map(|i| i as u8).collect();
        let ok = response_round_trip(Ok(block.clone())).await.expect("ok");
        assert_eq!(ok.result, Ok(block));
        let empty = response_round_trip(Ok(Vec::new()))
            .await
            .expect("empty body");
        assert_eq!(empty.result, Ok(Vec::new()));
        let err = response_round_trip(Err("no such block".into()))
            .await
            .expect("err");
        assert_eq!(err.result, Err("no such block".into()));
    }

    #[tokio::test]
    async fn bad_frames_are_refused() {
        let mut empty = futures::io::Cursor::new(0u32.to_be_bytes().to_vec());
        assert!(
            BinaryCodec
                .read_response(&protocol(), &mut empty)
                .await
                .is_err()
        );
        let huge = ((MAX_RPC_BYTES + 1) as u32).to_be_bytes().to_vec();
        let mut huge = futures::io::Cursor::new(huge);
        assert!(
            BinaryCodec
                .read_response(&protocol(), &mut huge)
                .await
                .is_err()
        );
        let mut truncated = futures::io::Cursor::new(vec![0, 0, 0, 9, 0, 1, 2]);
        assert!(
            BinaryCodec
                .read_response(&protocol(), &mut truncated)
                .await
                .is_err()
        );
        let too_big = RpcResponse {
            result: Ok(vec![0; MAX_RPC_BYTES]),
        };
        let mut sink = futures::io::Cursor::new(Vec::new());
        assert!(
            BinaryCodec
                .write_response(&protocol(), &mut sink, too_big)
                .await
                .is_err()
        );
    }
}
