//! The proof of a config is a real tunnel: two network namespaces joined by a veth pair play
//! the node and the user's device, with the real wireguard-go, wg and openvpn, and a ping
//! goes through the tunnel. Needs root (CI and scripts/test.sh run as root).
use crate::helpers::*;
use phaze_portal::state::Portal;
use phaze_portal::vpn::wireguard::strip_wg_quick_keys;
use rocket::http::Status;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn run(args: &[&str]) -> Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn must(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace of the test's own, removed (with what runs in it) when dropped.
struct Netns {
    name: String,
    children: Vec<Child>,
    links: Vec<String>,
}

impl Netns {
    fn new(name: String) -> Netns {
        let _ = run(&["ip", "netns", "del", &name]);
        must(&["ip", "netns", "add", &name]);
        must(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Netns { name, children: Vec::new(), links: Vec::new() }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(args);
        cmd.env("WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD", "1");
        cmd
    }

    fn must(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(out.status.success(), "in {}: {args:?} failed: {}", self.name, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn spawn(&mut self, args: &[&str]) {
        let child = self.cmd(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        self.children.push(child);
    }

    fn kill_all(&mut self) {
        for mut child in self.children.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.kill_all();
        for link in &self.links {
            let _ = run(&["ip", "-n", &self.name, "link", "del", link]);
        }
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}

/// A node and a device namespace joined by a veth pair: node 10.201.N.1, device 10.201.N.2.
struct TestNet {
    node: Netns,
    device: Netns,
    n: u8,
    dir: PathBuf,
}

impl TestNet {
    fn new(tag: &str) -> TestNet {
        let mut b = [0u8; 2];
        getrandom::fill(&mut b).unwrap();
        let n = b[0] % 250 + 1;
        let id = format!("{tag}{:02x}{:02x}", b[0], b[1]);
        let node = Netns::new(format!("pz-n-{id}"));
        let device = Netns::new(format!("pz-d-{id}"));
        let (vn, vd) = (format!("vn{id}"), format!("vd{id}"));
        must(&["ip", "link", "add", &vn, "type", "veth", "peer", "name", &vd]);
        must(&["ip", "link", "set", &vn, "netns", &node.name]);
        must(&["ip", "link", "set", &vd, "netns", &device.name]);
        node.must(&["ip", "addr", "add", &format!("10.201.{n}.1/30"), "dev", &vn]);
        device.must(&["ip", "addr", "add", &format!("10.201.{n}.2/30"), "dev", &vd]);
        node.must(&["ip", "link", "set", &vn, "up"]);
        device.must(&["ip", "link", "set", &vd, "up"]);
        let dir = std::env::temp_dir().join(format!("phaze-tunnel-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        TestNet { node, device, n, dir }
    }

    fn node_host(&self) -> String {
        format!("10.201.{}.1", self.n)
    }

    fn pool(&self) -> String {
        format!("10.77.{}.0/24", self.n)
    }

    fn write(&self, name: &str, content: &str) -> String {
        let path = self.dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ping(ns: &Netns, from: &str, to: &str) -> bool {
    ns.cmd(&["ping", "-c", "3", "-i", "0.3", "-W", "2", "-I", from, to]).output().unwrap().status.success()
}

async fn wait_for(what: &str, seconds: u64, mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..seconds * 5 {
        if check() {
            return true;
        }
        rocket::tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("gave up waiting for {what}");
    false
}

fn log_has(path: &Path, text: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|log| log.contains(text))
}

async fn node_files(app: &TestApp, node_name: &str) -> Vec<(String, String)> {
    let portal = app.client.rocket().state::<Portal>().unwrap();
    let node = phaze_portal::store::nodes::find_by_name(&app.pool, node_name).await.unwrap().unwrap();
    phaze_portal::domain::nodes::bundle(&app.pool, &portal.vault, &portal.pki, &node).await.unwrap()
}

fn file<'a>(files: &'a [(String, String)], name: &str) -> &'a str {
    &files.iter().find(|(n, _)| n == name).unwrap().1
}

#[rocket::async_test]
async fn wireguard_config_brings_up_a_tunnel_that_carries_a_ping() {
    let net = TestNet::new("w");
    let app = TestApp::spawn().await;
    app.add_node("wg-node", &net.node_host(), &net.pool()).await;
    app.sign_up("tunnel_wg").await;
    let id = app.create_client("wg-device", "wireguard").await;
    let (status, _, _, client_conf) = app.download(id).await;
    assert_eq!(status, Status::Ok);
    let files = node_files(&app, "wg-node").await;
    let node_conf = file(&files, "wg0.conf");
    let address: String = sqlx::query_scalar("SELECT address FROM clients").fetch_one(&app.pool).await.unwrap();
    assert!(node_conf.contains(&format!("AllowedIPs = {address}/32")), "the node serves the client");

    let n = net.n;
    let node_ip = format!("10.77.{n}.1");
    net.node.must(&["wireguard-go", "wgn"]);
    let node_file = net.write("node.conf", &strip_wg_quick_keys(node_conf));
    net.node.must(&["wg", "setconf", "wgn", &node_file]);
    net.node.must(&["ip", "addr", "add", &format!("{node_ip}/24"), "dev", "wgn"]);
    net.node.must(&["ip", "link", "set", "wgn", "up"]);

    net.device.must(&["wireguard-go", "wgd"]);
    let device_file = net.write("device.conf", &strip_wg_quick_keys(&client_conf));
    net.device.must(&["wg", "setconf", "wgd", &device_file]);
    net.device.must(&["ip", "addr", "add", &format!("{address}/32"), "dev", "wgd"]);
    net.device.must(&["ip", "link", "set", "wgd", "up"]);
    net.device.must(&["ip", "route", "add", &format!("{node_ip}/32"), "dev", "wgd"]);
    // wg parsed both files: what it holds is what the portal wrote.
    let shown = net.device.must(&["wg", "showconf", "wgd"]);
    assert!(shown.contains(&format!("Endpoint = {}:51820", net.node_host())), "{shown}");
    assert!(shown.contains("PersistentKeepalive = 25"));

    let through = ping(&net.device, &address, &node_ip);
    let handshakes = net.node.must(&["wg", "show", "wgn", "latest-handshakes"]);
    for ns in [&net.node, &net.device] {
        let _ = ns.cmd(&["ip", "link", "del", if ns.name == net.node.name { "wgn" } else { "wgd" }]).output();
    }
    assert!(through, "ping from {address} to {node_ip} through WireGuard");
    let when: u64 = handshakes.split_whitespace().nth(1).and_then(|t| t.parse().ok()).unwrap_or(0);
    assert!(when > 0, "a handshake happened: {handshakes}");
}

#[rocket::async_test]
async fn openvpn_profile_connects_and_is_refused_once_revoked() {
    let mut net = TestNet::new("o");
    let app = TestApp::spawn().await;
    app.add_node("ovpn-node", &net.node_host(), &net.pool()).await;
    app.sign_up("tunnel_ovpn").await;
    let id = app.create_client("ovpn-device", "openvpn").await;
    let (_, _, _, ovpn) = app.download(id).await;
    for (name, content) in node_files(&app, "ovpn-node").await {
        net.write(&name, &content);
    }
    let dir = net.dir.display().to_string();
    let verify = must(&["openssl", "verify", "-CAfile", &format!("{dir}/ca.crt"), &format!("{dir}/server.crt")]);
    assert!(verify.contains(": OK"), "the node's certificate chains to the portal's CA");
    let eku = must(&["openssl", "x509", "-in", &format!("{dir}/server.crt"), "-noout", "-ext", "extendedKeyUsage"]);
    assert!(eku.contains("TLS Web Server Authentication") && !eku.contains("Client"), "{eku}");
    let server_log = net.dir.join("server.log");
    net.node.spawn(&["openvpn", "--cd", &dir, "--config", "server.conf", "--log", &server_log.display().to_string()]);
    assert!(wait_for("the OpenVPN server", 20, || log_has(&server_log, "Initialization Sequence Completed")).await);

    let profile = net.write("device.ovpn", &ovpn);
    let client_log = net.dir.join("client.log");
    let client_log_s = client_log.display().to_string();
    net.device.spawn(&["openvpn", "--config", &profile, "--log", &client_log_s]);
    let up = wait_for("the OpenVPN client", 30, || log_has(&client_log, "Initialization Sequence Completed")).await;
    assert!(up, "client log:\n{}", std::fs::read_to_string(&client_log).unwrap_or_default());
    let n = net.n;
    let server_ip = format!("10.77.{n}.129");
    let device_ip = net
        .device
        .must(&["ip", "-4", "-o", "addr", "show", "dev", "tun0"])
        .split_whitespace()
        .nth(3)
        .and_then(|a| a.split('/').next())
        .unwrap()
        .to_owned();
    let assigned: String = sqlx::query_scalar("SELECT address FROM clients").fetch_one(&app.pool).await.unwrap();
    assert_eq!(device_ip, assigned, "the node pushed the address the portal assigned (ccd/)");
    assert!(ping(&net.device, &device_ip, &server_ip), "ping through OpenVPN from {device_ip} to {server_ip}");
    net.device.kill_all();

    // Revoke in the portal; the node reloads the CRL; the same profile is refused.
    let r = app.submit("/dashboard", &format!("/clients/{id}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    net.write("crl.pem", file(&node_files(&app, "ovpn-node").await, "crl.pem"));
    let _ = std::fs::remove_file(&client_log);
    net.device.spawn(&["openvpn", "--config", &profile, "--log", &client_log_s]);
    let refused = wait_for("the revocation", 30, || log_has(&server_log, "certificate revoked")).await;
    assert!(refused, "server log:\n{}", std::fs::read_to_string(&server_log).unwrap_or_default());
    assert!(!log_has(&client_log, "Initialization Sequence Completed"), "a revoked client must not connect");
    net.node.kill_all();
    net.device.kill_all();
}

/// Makes the node's WireGuard interface serve exactly the peers of a peers list (what a node
/// agent does after each poll that found a change).
fn sync_wireguard_peers(node: &Netns, iface: &str, list: &serde_json::Value) {
    let wanted: Vec<(String, String)> = ["wireguard", "phazevpn"]
        .iter()
        .flat_map(|p| list[p].as_array().cloned().unwrap_or_default())
        .map(|peer| (peer["public_key"].as_str().unwrap().to_owned(), peer["address"].as_str().unwrap().to_owned()))
        .collect();
    for key in node.must(&["wg", "show", iface, "peers"]).lines() {
        if !wanted.iter().any(|(k, _)| k == key) {
            node.must(&["wg", "set", iface, "peer", key, "remove"]);
        }
    }
    for (key, address) in &wanted {
        node.must(&["wg", "set", iface, "peer", key, "allowed-ips", &format!("{address}/32")]);
    }
}

#[rocket::async_test]
async fn wireguard_node_takes_its_peers_from_the_api_and_drops_a_revoked_client_at_the_next_poll() {
    use crate::node_api::peers;
    let net = TestNet::new("a");
    let app = TestApp::spawn().await;
    let (_, token) = app.add_node_with_token("api-node", &net.node_host(), &net.pool()).await;
    app.sign_up("tunnel_api").await;
    let id = app.create_client("api-device", "wireguard").await;
    let (_, _, _, client_conf) = app.download(id).await;

    // The node's own interface, with no peers: they come from the API only.
    let files = node_files(&app, "api-node").await;
    let interface_only = file(&files, "wg0.conf").split("[Peer]").next().unwrap().to_owned();
    let n = net.n;
    let node_ip = format!("10.77.{n}.1");
    net.node.must(&["wireguard-go", "wga"]);
    net.node.must(&["wg", "setconf", "wga", &net.write("node.conf", &strip_wg_quick_keys(&interface_only))]);
    net.node.must(&["ip", "addr", "add", &format!("{node_ip}/24"), "dev", "wga"]);
    net.node.must(&["ip", "link", "set", "wga", "up"]);
    assert_eq!(net.node.must(&["wg", "show", "wga", "peers"]).trim(), "", "no peer before the first poll");

    let first = peers(&app.client, &token, None).await;
    assert_eq!(first.status, Status::Ok);
    sync_wireguard_peers(&net.node, "wga", &first.json());
    let address = first.json()["wireguard"][0]["address"].as_str().unwrap().to_owned();

    net.device.must(&["wireguard-go", "wgb"]);
    net.device.must(&["wg", "setconf", "wgb", &net.write("device.conf", &strip_wg_quick_keys(&client_conf))]);
    net.device.must(&["ip", "addr", "add", &format!("{address}/32"), "dev", "wgb"]);
    net.device.must(&["ip", "link", "set", "wgb", "up"]);
    net.device.must(&["ip", "route", "add", &format!("{node_ip}/32"), "dev", "wgb"]);
    let before = ping(&net.device, &address, &node_ip);

    // Revoked in the portal; the next poll sees a new ETag and a list without the client.
    let r = app.submit("/dashboard", &format!("/clients/{id}/revoke"), &[]).await;
    assert_eq!(r.status(), Status::SeeOther);
    drop(r);
    let next = peers(&app.client, &token, first.etag.as_deref()).await;
    assert_eq!(next.status, Status::Ok, "the revocation changed the ETag");
    sync_wireguard_peers(&net.node, "wga", &next.json());
    let after = ping(&net.device, &address, &node_ip);
    let left = net.node.must(&["wg", "show", "wga", "peers"]);
    for (ns, iface) in [(&net.node, "wga"), (&net.device, "wgb")] {
        let _ = ns.cmd(&["ip", "link", "del", iface]).output();
    }
    assert!(before, "ping through the tunnel while the client is on the list");
    assert_eq!(left.trim(), "", "the node dropped the revoked peer");
    assert!(!after, "a revoked client's packets no longer get through");
}
