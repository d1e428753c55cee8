//! Bench-only: the ceiling. A bare actix-web handler that returns a constant JSON body
//! (the same bytes `GET /api/plans` returned), so Tariff's figures can be read as a
//! ratio of what the framework itself does on this machine.
//!
//! Usage: `ceiling BODY_FILE [WORKERS]`; prints `listening on http://ADDR`.

use std::io::Write;

use actix_web::{web, App, HttpResponse, HttpServer};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(body_file) = args.next() else {
        eprintln!("usage: ceiling BODY_FILE [WORKERS]");
        std::process::exit(2);
    };
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    let body = web::Bytes::from(std::fs::read(body_file)?);
    actix_web::rt::System::new().block_on(async move {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        println!("listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        HttpServer::new(move || {
            let body = body.clone();
            App::new().default_service(web::to(move || {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }))
        })
        .workers(workers)
        .listen(listener)?
        .run()
        .await
    })
}
