//! IPv4 address pools of nodes. The lower half of `10.66.0.0/24` is for WireGuard and PhazeVPN
//! (the node is .1, clients get .2 upwards); the upper half is the OpenVPN server's subnet.
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Pool {
    pub fn parse(cidr: &str) -> Option<Pool> {
        let (addr, prefix) = cidr.trim().split_once('/')?;
        let network: Ipv4Addr = addr.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        if !(8..=28).contains(&prefix) || u32::from(network) & !Self::mask(prefix) != 0 {
            return None;
        }
        Some(Pool { network, prefix })
    }

    fn mask(prefix: u8) -> u32 {
        u32::MAX << (32 - prefix)
    }

    /// The node's own tunnel address: the first in the pool.
    pub fn node_address(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    fn half(&self) -> u32 {
        1 << (32 - self.prefix - 1)
    }

    /// WireGuard-style client addresses, in order: the lower half but for the network and node.
    pub fn client_addresses(&self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.network) + 2;
        (first..u32::from(self.network) + self.half()).map(Ipv4Addr::from)
    }

    /// The OpenVPN server's subnet: the upper half, as (network, netmask).
    pub fn openvpn_subnet(&self) -> (Ipv4Addr, Ipv4Addr) {
        (Ipv4Addr::from(u32::from(self.network) + self.half()), Ipv4Addr::from(Self::mask(self.prefix + 1)))
    }

    /// The OpenVPN server's own address (the first of the upper half).
    pub fn openvpn_server_address(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + self.half() + 1)
    }

    /// OpenVPN client addresses, pushed by the node from its client-config-dir: the upper half
    /// but for its network, the server's address and the broadcast address.
    pub fn openvpn_client_addresses(&self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.network) + self.half() + 2;
        (first..u32::from(self.network) + 2 * self.half() - 1).map(Ipv4Addr::from)
    }

    /// First and last WireGuard/PhazeVPN client address.
    pub fn client_range(&self) -> (Ipv4Addr, Ipv4Addr) {
        (Ipv4Addr::from(u32::from(self.network) + 2), Ipv4Addr::from(u32::from(self.network) + self.half() - 1))
    }

    /// First and last OpenVPN client address.
    pub fn openvpn_client_range(&self) -> (Ipv4Addr, Ipv4Addr) {
        let base = u32::from(self.network) + self.half();
        (Ipv4Addr::from(base + 2), Ipv4Addr::from(base + self.half() - 2))
    }

    /// The lowest client address not in `taken`.
    pub fn first_free(&self, taken: &std::collections::HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
        self.client_addresses().find(|a| !taken.contains(a))
    }

    /// The lowest OpenVPN client address not in `taken`.
    pub fn first_free_openvpn(&self, taken: &std::collections::HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
        self.openvpn_client_addresses().find(|a| !taken.contains(a))
    }
}

impl std::fmt::Display for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_parse_and_allocate_from_the_second_address() {
        let pool = Pool::parse("10.66.0.0/24").unwrap();
        assert_eq!(pool.node_address(), Ipv4Addr::new(10, 66, 0, 1));
        assert_eq!(pool.client_addresses().count(), 126);
        assert_eq!(pool.client_addresses().last(), Some(Ipv4Addr::new(10, 66, 0, 127)));
        assert_eq!(pool.openvpn_subnet(), (Ipv4Addr::new(10, 66, 0, 128), Ipv4Addr::new(255, 255, 255, 128)));
        let set = |a: &[Ipv4Addr]| a.iter().copied().collect::<std::collections::HashSet<_>>();
        assert_eq!(pool.first_free(&set(&[])), Some(Ipv4Addr::new(10, 66, 0, 2)));
        assert_eq!(pool.first_free(&set(&[Ipv4Addr::new(10, 66, 0, 2)])), Some(Ipv4Addr::new(10, 66, 0, 3)));
        assert_eq!(pool.openvpn_server_address(), Ipv4Addr::new(10, 66, 0, 129));
        let ovpn: Vec<_> = pool.openvpn_client_addresses().collect();
        assert_eq!(
            (ovpn.len(), ovpn[0], ovpn[ovpn.len() - 1]),
            (125, Ipv4Addr::new(10, 66, 0, 130), Ipv4Addr::new(10, 66, 0, 254))
        );
        assert!(pool.client_addresses().all(|a| !ovpn.contains(&a)), "the halves do not overlap");
        assert_eq!(
            pool.first_free_openvpn(&set(&[Ipv4Addr::new(10, 66, 0, 130)])),
            Some(Ipv4Addr::new(10, 66, 0, 131))
        );
        // The ranges match the address lists.
        assert_eq!(pool.client_range(), (Ipv4Addr::new(10, 66, 0, 2), Ipv4Addr::new(10, 66, 0, 127)));
        assert_eq!(pool.openvpn_client_range(), (ovpn[0], ovpn[ovpn.len() - 1]));
        let tiny = Pool::parse("10.0.0.0/28").unwrap();
        let all: Vec<_> = tiny.client_addresses().collect();
        assert_eq!(all.len(), 6);
        assert_eq!(tiny.first_free(&set(&all)), None);
        for bad in ["10.66.0.1/24", "10.66.0.0", "10.66.0.0/33", "nope/24", "10.0.0.0/30"] {
            assert!(Pool::parse(bad).is_none(), "{bad}");
        }
    }
}
