//! Opening the TCP connection to an address the policy has allowed.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use tokio::net::TcpStream;

/// The future a [`Dial`] implementation returns.
pub type Dialing = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// Opens a TCP connection to an already vetted address. The connector calls
/// it only with addresses the policy allows, applies the connect timeout
/// around it, sets `TCP_NODELAY`, and checks the peer address of the stream
/// it returns once more.
///
/// The default is [`TcpDialer`]; implement it to bind a source address, set
/// socket options, or count connection attempts in tests.
pub trait Dial: Send + Sync + 'static {
    /// Connects to `addr`.
    fn dial(&self, addr: SocketAddr) -> Dialing;
}

/// [`TcpStream::connect`].
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct TcpDialer;

impl Dial for TcpDialer {
    fn dial(&self, addr: SocketAddr) -> Dialing {
        Box::pin(TcpStream::connect(addr))
    }
}
