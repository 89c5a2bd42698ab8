//! `connector hl7 listen ADDR`: a stand-in EHR for demos and integration checks. An MLLP
//! listener that answers every message with an ACK (`--code AA` by default) and prints one line
//! per message: its MSH-9 and MSH-10, never its content.

use std::net::SocketAddr;

use anyhow::{Result, anyhow};
use connector_hl7::chrono::Utc;
use connector_hl7::{AckBuilder, AckCode, Message};
use connector_transport::mllp::server::serve;

use crate::listener;

/// Options of `connector hl7 listen`.
#[derive(Debug, clap::Args)]
pub struct ListenArgs {
    /// The address to listen on, e.g. 127.0.0.1:2576.
    listen: SocketAddr,
    /// MSA-1 of every answer: AA, AE or AR.
    #[arg(long, default_value = "AA")]
    code: String,
}

/// Runs the listener until Ctrl-C.
pub fn run(args: ListenArgs) -> Result<()> {
    let code: AckCode = args
        .code
        .parse()
        .map_err(|_| anyhow!("--code must be AA, AE or AR"))?;
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    listener::serve_until(args.listen, stop, |listener, shutdown| async move {
        println!("listening for MLLP on {}", listener.local_addr()?);
        serve(
            listener,
            move |frame: Vec<u8>| async move {
                let now = Utc::now();
                match Message::parse_bytes(&frame) {
                    Ok(message) => {
                        let control_id = message.control_id().unwrap_or_default().into_owned();
                        println!(
                            "{}\t{}^{}\t{control_id}\t{}",
                            now.format("%H:%M:%S%.3f"),
                            message.message_code().unwrap_or_default(),
                            message.trigger_event().unwrap_or_default(),
                            code.as_str(),
                        );
                        AckBuilder::new(code, &format!("L{control_id}"))
                            .timestamp(now.fixed_offset())
                            .build(&message)
                            .to_er7()
                            .into_bytes()
                    }
                    Err(e) => {
                        println!("{}\tunparseable\tAR", now.format("%H:%M:%S%.3f"));
                        AckBuilder::new(AckCode::ApplicationReject, "L")
                            .build_unparsable(&frame, &e)
                            .to_er7()
                            .into_bytes()
                    }
                }
            },
            shutdown,
        )
        .await;
        Ok(())
    })
}
