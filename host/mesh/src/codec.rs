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

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_RPC_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "rpc frame too large",
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, parts: &[&[u8]]) -> io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > MAX_RPC_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "rpc frame too large",
        ));
    }
    io.write_all(&(len as u32).to_be_bytes()).await?;
    for part in parts {
        io.write_all(part).await?;
    }
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
        let frame = read_frame(io).await?;
        let (status, payload) = frame
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "empty rpc response"))?;
        let result = match status {
            0 => Ok(payload.to_vec()),
            _ => Err(String::from_utf8_lossy(payload).into_owned()),
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
        write_frame(io, &[&len.to_be_bytes(), req.service.as_bytes(), &req.body]).await
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
            Ok(body) => write_frame(io, &[&[0], &body]).await,
            Err(reason) => write_frame(io, &[&[1], reason.as_bytes()]).await,
        }
    }
}
