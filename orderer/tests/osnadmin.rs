//! The `osnadmin` binary against an in-process admin server with mutual TLS: Fabric's
//! output (`Status: <code>` and tab-indented JSON) and exit codes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::{Pki, Server, app_block};
use weft_proto::Message;

const OSNADMIN: &str = env!("CARGO_BIN_EXE_osnadmin");

async fn osnadmin(args: Vec<String>) -> Output {
    tokio::process::Command::new(OSNADMIN)
        .args(args)
        .output()
        .await
        .expect("run osnadmin")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

struct Env {
    pki: Pki,
    server: Server,
    address: String,
    block: PathBuf,
}

async fn env() -> Env {
    let pki = Pki::new();
    let server = Server::start(Some(pki.server_config()), 1024 * 1024).await;
    let address = format!("127.0.0.1:{}", server.addr.port());
    let block = pki.dir.path().join("mychannel.block");
    std::fs::write(&block, app_block("mychannel").encode_to_vec()).expect("write block");
    Env {
        pki,
        server,
        address,
        block,
    }
}

impl Env {
    /// `osnadmin channel <sub...> -o <addr> --ca-file … --client-cert … --client-key …`.
    fn tls_args(&self, sub: &[&str]) -> Vec<String> {
        let mut all = args(&["channel"]);
        all.extend(args(sub));
        all.extend([
            "-o".to_owned(),
            self.address.clone(),
            "--ca-file".to_owned(),
            path(&self.pki.ca),
            "--client-cert".to_owned(),
            path(&self.pki.client_cert),
            "--client-key".to_owned(),
            path(&self.pki.client_key),
        ]);
        all
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn join_list_remove_print_like_fabric() {
    let e = env().await;
    let block = path(&e.block);

    let out =
        osnadmin(e.tls_args(&["join", "--channelID", "mychannel", "--config-block", &block])).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        stdout(&out),
        "Status: 201\n{\n\t\"name\": \"mychannel\",\n\t\"url\": \"/participation/v1/channels/mychannel\",\
         \n\t\"consensusRelation\": \"consenter\",\n\t\"status\": \"active\",\n\t\"height\": 1\n}\n\n"
    );

    let out = osnadmin(e.tls_args(&["list"])).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "Status: 200\n{\n\t\"systemChannel\": null,\n\t\"channels\": [\n\t\t{\n\t\t\t\"name\": \
         \"mychannel\",\n\t\t\t\"url\": \"/participation/v1/channels/mychannel\"\n\t\t}\n\t]\n}\n\n"
    );

    let out = osnadmin(e.tls_args(&["list", "-c", "mychannel", "--no-status"])).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("{\n\t\"name\": \"mychannel\""),
        "{}",
        stdout(&out)
    );

    let out = osnadmin(e.tls_args(&["remove", "--channelID", "mychannel"])).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "Status: 204\n\n");

    // An HTTP error is still an answer: printed, exit 0 (as Fabric's osnadmin).
    let out = osnadmin(e.tls_args(&["list", "--channelID", "mychannel"])).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "Status: 404\n{\n\t\"error\": \"channel does not exist\"\n}\n\n"
    );

    let out = osnadmin(e.tls_args(&["join", "-c", "mychannel", "-b", &block])).await;
    assert_eq!(out.status.code(), Some(0));
    let out = osnadmin(e.tls_args(&["join", "-c", "mychannel", "-b", &block])).await;
    assert_eq!(
        stdout(&out),
        "Status: 405\n{\n\t\"error\": \"cannot join: channel already exists\"\n}\n\n"
    );
    e.server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_exit_1_with_an_error_line() {
    let e = env().await;
    let block = path(&e.block);

    // The block is of another channel.
    let out =
        osnadmin(e.tls_args(&["join", "--channelID", "other", "--config-block", &block])).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "Error: specified --channelID other does not match channel ID mychannel in config block\n\n"
    );

    // Unreadable block file.
    let out = osnadmin(e.tls_args(&["join", "-c", "mychannel", "-b", "/nonexistent.block"])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("Error: reading config block: "),
        "{}",
        stdout(&out)
    );

    // Unreadable CA file.
    let mut a = e.tls_args(&["list"]);
    let ca = a.iter().position(|x| x == "--ca-file").expect("ca flag") + 1;
    a[ca] = "/nonexistent/ca.crt".to_owned();
    let out = osnadmin(a).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("Error: reading orderer CA certificate: "),
        "{}",
        stdout(&out)
    );

    // No client certificate: the server refuses the connection.
    let out = osnadmin(args(&[
        "channel",
        "list",
        "-o",
        &e.address,
        "--ca-file",
        &path(&e.pki.ca),
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "Error: Get \"https://{}/participation/v1/channels\": ",
            e.address
        )),
        "{text}"
    );

    // Missing orderer address.
    let out = osnadmin(args(&["channel", "list"])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--orderer-address"),
        "{:?}",
        out
    );

    // Nothing listening.
    let address = e.address.clone();
    e.server.stop().await;
    let out = osnadmin(args(&[
        "channel",
        "remove",
        "-c",
        "mychannel",
        "-o",
        &address,
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with(&format!(
            "Error: Delete \"http://{address}/participation/v1/channels/mychannel\": dial tcp "
        )),
        "{}",
        stdout(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_without_ca_file() {
    let pki = Pki::new();
    let server = Server::start(None, 1024 * 1024).await;
    let block = pki.dir.path().join("mychannel.block");
    std::fs::write(&block, app_block("mychannel").encode_to_vec()).expect("write block");
    let address = format!("127.0.0.1:{}", server.addr.port());
    let out = osnadmin(args(&[
        "channel",
        "join",
        "-c",
        "mychannel",
        "-b",
        &path(&block),
        "-o",
        &address,
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("Status: 201\n"));
    server.stop().await;
}
