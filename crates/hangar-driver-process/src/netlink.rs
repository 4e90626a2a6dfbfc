//! A minimal rtnetlink client: the handful of requests a Machine's veth pair
//! needs (create a veth with its peer in another namespace, set links up,
//! add addresses and default routes, delete a link), sent straight to the
//! kernel instead of through `ip`, which saves a process per step on every
//! start.
//!
//! Each request asks for an acknowledgement and fails with the kernel's
//! errno, so errors read like `ip`'s.

use std::ffi::CString;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_ERROR: u16 = 2;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_PID: u16 = 19;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_F_NODAD: u8 = 0x02;

const RTA_GATEWAY: u16 = 5;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;

/// An open `NETLINK_ROUTE` socket, bound in the network namespace of the
/// thread that opened it.
pub(crate) struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

/// One request under construction: header, fixed part, attributes.
struct Message {
    buf: Vec<u8>,
    /// Start offsets of attributes still open for nesting.
    nests: Vec<usize>,
}

impl Message {
    fn new(kind: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set on send
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // sequence, set on send
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        Message {
            buf,
            nests: Vec::new(),
        }
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    /// `struct ifinfomsg`.
    fn ifinfo(&mut self, index: u32, flags: u32, change: u32) -> &mut Self {
        self.buf.extend_from_slice(&[libc::AF_UNSPEC as u8, 0]);
        self.buf.extend_from_slice(&0u16.to_ne_bytes()); // type
        self.buf.extend_from_slice(&index.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&change.to_ne_bytes());
        self
    }

    fn attr(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let len = 4 + payload.len() as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
        self
    }

    fn attr_str(&mut self, kind: u16, value: &str) -> &mut Self {
        let mut bytes = value.as_bytes().to_vec();
        bytes.push(0);
        self.attr(kind, &bytes)
    }

    fn begin(&mut self, kind: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self
    }

    fn end(&mut self) -> &mut Self {
        let start = self.nests.pop().expect("end matches a begin");
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }
}

fn addr_bytes(ip: IpAddr) -> (u8, Vec<u8>) {
    match ip {
        IpAddr::V4(v4) => (libc::AF_INET as u8, v4.octets().to_vec()),
        IpAddr::V6(v6) => (libc::AF_INET6 as u8, v6.octets().to_vec()),
    }
}

/// The index of interface `name` in the calling thread's network namespace.
pub(crate) fn link_index(name: &str) -> Result<u32, String> {
    link_index_if_present(name)?.ok_or_else(|| format!("interface {name} does not exist"))
}

/// [`link_index`], or `None` when no such interface exists (any more).
pub(crate) fn link_index_if_present(name: &str) -> Result<Option<u32>, String> {
    let c_name = CString::new(name).map_err(|_| format!("bad interface name {name:?}"))?;
    // SAFETY: if_nametoindex reads a NUL-terminated string we own.
    match unsafe { libc::if_nametoindex(c_name.as_ptr()) } {
        0 => {
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::ENODEV) => Ok(None),
                _ => Err(format!("interface {name}: {err}")),
            }
        }
        index => Ok(Some(index)),
    }
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub(crate) fn open() -> Result<Netlink, String> {
        // SAFETY: socket(2) takes no pointers; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(format!(
                "opening a netlink socket: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Netlink { fd, seq: 0 })
    }

    /// Sends `message` and waits for the kernel's acknowledgement.
    fn request(&mut self, message: Message, what: &str) -> Result<(), String> {
        self.request_tolerating(message, what, None)
    }

    /// [`Netlink::request`], also succeeding when the kernel answers `tolerated`.
    fn request_tolerating(
        &mut self,
        mut message: Message,
        what: &str,
        tolerated: Option<i32>,
    ) -> Result<(), String> {
        self.seq = self.seq.wrapping_add(1);
        let len = message.buf.len() as u32;
        message.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        message.buf[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // SAFETY: send(2) reads `len` bytes of the buffer we own.
        let sent = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                message.buf.as_ptr().cast(),
                message.buf.len(),
                0,
            )
        };
        if sent < 0 {
            return Err(format!("{what}: {}", std::io::Error::last_os_error()));
        }
        let mut reply = [0u8; 4096];
        loop {
            // SAFETY: recv(2) writes at most `reply.len()` bytes into our buffer.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    reply.as_mut_ptr().cast(),
                    reply.len(),
                    0,
                )
            };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(format!("{what}: reading the kernel's answer: {err}"));
            }
            let reply = &reply[..n as usize];
            let mut offset = 0;
            while offset + 20 <= reply.len() {
                let field =
                    |at: usize| u32::from_ne_bytes(reply[at..at + 4].try_into().expect("4 bytes"));
                let msg_len = field(offset) as usize;
                let kind = u16::from_ne_bytes([reply[offset + 4], reply[offset + 5]]);
                let seq = field(offset + 8);
                if kind == NLMSG_ERROR && seq == self.seq {
                    let errno = field(offset + 16) as i32;
                    return match errno {
                        0 => Ok(()),
                        e if Some(-e) == tolerated => Ok(()),
                        e => Err(format!("{what}: {}", std::io::Error::from_raw_os_error(-e))),
                    };
                }
                if msg_len < 16 {
                    break;
                }
                offset += (msg_len + 3) & !3;
            }
        }
    }

    /// Creates the veth pair `host_name` (attached to bridge `master`) and
    /// `peer_name`, the peer placed in the network namespace of `peer_pid`
    /// with the hardware address `peer_mac`.
    pub(crate) fn add_veth(
        &mut self,
        host_name: &str,
        master: u32,
        peer_name: &str,
        peer_pid: u32,
        peer_mac: [u8; 6],
    ) -> Result<(), String> {
        let mut m = Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(0, 0, 0)
            .attr_str(IFLA_IFNAME, host_name)
            .attr(IFLA_MASTER, &master.to_ne_bytes())
            .begin(IFLA_LINKINFO)
            .attr_str(IFLA_INFO_KIND, "veth")
            .begin(IFLA_INFO_DATA)
            .begin(VETH_INFO_PEER)
            .ifinfo(0, 0, 0)
            .attr_str(IFLA_IFNAME, peer_name)
            .attr(IFLA_ADDRESS, &peer_mac)
            .attr(IFLA_NET_NS_PID, &peer_pid.to_ne_bytes())
            .end()
            .end()
            .end();
        self.request(
            m,
            &format!("creating veth {host_name} (peer {peer_name} in pid {peer_pid}'s namespace)"),
        )
    }

    /// Sets the link with `index` up.
    pub(crate) fn set_up(&mut self, index: u32, name: &str) -> Result<(), String> {
        let up = libc::IFF_UP as u32;
        let mut m = Message::new(RTM_NEWLINK, 0);
        m.ifinfo(index, up, up);
        self.request(m, &format!("setting {name} up"))
    }

    /// Deletes the link with `index` (a veth takes its peer along); a link
    /// already gone counts as deleted.
    pub(crate) fn delete_link(&mut self, index: u32, name: &str) -> Result<(), String> {
        let mut m = Message::new(RTM_DELLINK, 0);
        m.ifinfo(index, 0, 0);
        self.request_tolerating(m, &format!("deleting {name}"), Some(libc::ENODEV))
    }

    /// Adds `ip/prefix` to the link with `index`; IPv6 addresses skip
    /// duplicate address detection (the bridge's subnet is ours alone).
    pub(crate) fn add_address(&mut self, index: u32, ip: IpAddr, prefix: u8) -> Result<(), String> {
        let (family, bytes) = addr_bytes(ip);
        let flags = if ip.is_ipv6() { IFA_F_NODAD } else { 0 };
        let mut m = Message::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        m.buf
            .extend_from_slice(&[family, prefix, flags, RT_SCOPE_UNIVERSE]);
        m.buf.extend_from_slice(&index.to_ne_bytes());
        m.attr(IFA_LOCAL, &bytes).attr(IFA_ADDRESS, &bytes);
        self.request(m, &format!("adding address {ip}/{prefix}"))
    }

    /// Adds the default route of `gateway`'s family through `gateway`.
    pub(crate) fn add_default_route(&mut self, gateway: IpAddr) -> Result<(), String> {
        let (family, bytes) = addr_bytes(gateway);
        let mut m = Message::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        m.buf.extend_from_slice(&[
            family,
            0, // destination prefix length: default route
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            RT_SCOPE_UNIVERSE,
            RTN_UNICAST,
        ]);
        m.buf.extend_from_slice(&0u32.to_ne_bytes()); // rtm_flags
        m.attr(RTA_GATEWAY, &bytes);
        self.request(m, &format!("adding the default route via {gateway}"))
    }
}
