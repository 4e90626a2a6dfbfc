//! Closed-loop saturation with `wrk` (Debian's `wrk`): fixed connections,
//! each sending its next request as soon as the last one is answered.

use std::net::SocketAddr;
use std::time::Duration;

use super::LoadResult;
use crate::error::BenchError;

/// How a saturation run is shaped.
#[derive(Debug, Clone, Copy)]
pub struct WrkShape {
    pub threads: usize,
    pub connections: usize,
    pub duration: Duration,
}

/// Runs `wrk --latency` against `http://addr/` with `Host: host`.
pub async fn saturate(
    addr: SocketAddr,
    host: &str,
    shape: WrkShape,
) -> Result<LoadResult, BenchError> {
    let url = format!("http://{addr}/");
    let header = format!("Host: {host}");
    let threads = shape.threads.to_string();
    let connections = shape.connections.to_string();
    let duration = format!("{}s", shape.duration.as_secs().max(1));
    let timeout = "2s";
    let args = [
        "--latency",
        "-t",
        &threads,
        "-c",
        &connections,
        "-d",
        &duration,
        "--timeout",
        timeout,
        "-H",
        &header,
        &url,
    ];
    let out =
        crate::peers::command::run_bounded("wrk", &args, shape.duration + Duration::from_secs(30))
            .await?;
    parse(&out).ok_or_else(|| BenchError::CommandFailed {
        command: format!("wrk {}", args.join(" ")),
        status: "unreadable output".into(),
        stderr: out,
    })
}

/// Reads requests/s, the 50th and 99th latency percentiles and the error
/// counts from wrk's `--latency` report.
pub fn parse(out: &str) -> Option<LoadResult> {
    let mut result = LoadResult::default();
    let mut have = (false, false, false);
    for line in out.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(v)) => {
                result.requests_per_sec = v.parse().ok()?;
                have.0 = true;
            }
            (Some("50%"), Some(v)) => {
                result.p50 = duration(v)?;
                have.1 = true;
            }
            (Some("99%"), Some(v)) => {
                result.p99 = duration(v)?;
                have.2 = true;
            }
            (Some("Non-2xx"), _) => {
                result.errors += line.rsplit(' ').next()?.parse::<u64>().ok()?;
            }
            (Some("Socket"), Some("errors:")) => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                result.errors += line
                    .split(',')
                    .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
        if let Some((n, _)) = line.split_once(" requests in ") {
            result.requests = n.trim().parse().unwrap_or(0);
        }
    }
    (have == (true, true, true)).then_some(result)
}

/// wrk's `123.45us`, `1.23ms`, `2.00s`, `1.00m`.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 5s test @ http://127.0.0.1:8080/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.02ms  30.11ms   91.00%
    Req/Sec    15.20k     1.10k   17.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    2.30ms
     90%    3.10ms
     99%    5.55ms
  151234 requests in 5.00s, 20.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  30246.80
Transfer/sec:      4.00MB
";

    #[test]
    fn reads_rate_percentiles_and_errors() {
        let r = parse(REPORT).unwrap();
        assert!((r.requests_per_sec - 30246.80).abs() < 1e-6);
        assert_eq!(r.p50, Duration::from_micros(812));
        assert_eq!(r.p99, Duration::from_micros(5550));
        assert_eq!(r.errors, 7);
        assert_eq!(r.requests, 151234);
    }

    #[test]
    fn a_report_without_percentiles_is_rejected() {
        assert!(parse("Requests/sec: 10.0\n").is_none());
    }
}
