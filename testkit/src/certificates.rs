//! Certificates for the TLS servers of the testkit, made with the `openssl` command.

use std::path::Path;
use std::process::Command;

/// A CA, and a server (`localhost`, `127.0.0.1`) and client certificate it signed, as
/// PEM files in `dir`; EC P-256 keys, which are quick to make.
pub(crate) fn make_certificates(dir: &Path) -> Result<(), String> {
    let run = |args: &[&str]| -> Result<(), String> {
        let output =
            Command::new("openssl").args(args).current_dir(dir).output().map_err(|e| format!("openssl: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr)))
        }
    };
    let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(&[
        &["req", "-x509"][..],
        &key,
        &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=hoist test CA"],
    ]
    .concat())?;
    std::fs::write(dir.join("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").map_err(|e| e.to_string())?;
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").map_err(|e| e.to_string())?;
    for (name, subject) in [("server", "/CN=localhost"), ("client", "/CN=hoist test client")] {
        let (key_file, csr, pem, ext) =
            (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"), format!("{name}.ext"));
        run(&[&["req"][..], &key, &["-keyout", &key_file, "-out", &csr, "-subj", subject]].concat())?;
        run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ])?;
    }
    Ok(())
}
