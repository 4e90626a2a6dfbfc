//! `Range` requests on blobs (RFC 9110 §14): one byte range per request,
//! which is what docker and containerd send to resume an interrupted pull.

use axum::http::{header, HeaderMap};

/// What a blob GET should send back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// No usable `Range` header: the whole blob (200).
    Whole,
    /// Bytes `start..=end` of the blob (206 with `Content-Range`).
    Part { start: u64, end: u64 },
    /// The range lies outside the blob (416 with `Content-Range: bytes */size`).
    Unsatisfiable,
}

/// Reads the request's `Range` header against a blob of `size` bytes.
///
/// A header that is not a single `bytes=` range is ignored (the whole blob
/// is sent), as RFC 9110 allows; several ranges are answered the same way.
pub(crate) fn requested(headers: &HeaderMap, size: u64) -> RangeAnswer {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeAnswer::Whole;
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // `bytes=-N`: the last N bytes.
        return match last.parse::<u64>() {
            Ok(0) => RangeAnswer::Unsatisfiable,
            Ok(_) if size == 0 => RangeAnswer::Unsatisfiable,
            Ok(n) => RangeAnswer::Part {
                start: size.saturating_sub(n),
                end: size - 1,
            },
            Err(_) => RangeAnswer::Whole,
        };
    }
    let Ok(start) = first.parse::<u64>() else {
        return RangeAnswer::Whole;
    };
    let end = match last {
        "" => u64::MAX,
        text => match text.parse::<u64>() {
            Ok(end) if end >= start => end,
            _ => return RangeAnswer::Whole,
        },
    };
    if start >= size {
        return RangeAnswer::Unsatisfiable;
    }
    RangeAnswer::Part {
        start,
        end: end.min(size - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(range: &str, size: u64) -> RangeAnswer {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, range.parse().unwrap());
        requested(&headers, size)
    }

    #[test]
    fn ranges() {
        use RangeAnswer::*;
        assert_eq!(answer("bytes=0-9", 100), Part { start: 0, end: 9 });
        assert_eq!(answer("bytes=90-", 100), Part { start: 90, end: 99 });
        assert_eq!(answer("bytes=90-500", 100), Part { start: 90, end: 99 });
        assert_eq!(answer("bytes=-10", 100), Part { start: 90, end: 99 });
        assert_eq!(answer("bytes=-500", 100), Part { start: 0, end: 99 });
        assert_eq!(answer("bytes=100-", 100), Unsatisfiable);
        assert_eq!(answer("bytes=-0", 100), Unsatisfiable);
        assert_eq!(answer("bytes=5-2", 100), Whole);
        assert_eq!(answer("bytes=0-1,5-6", 100), Whole);
        assert_eq!(answer("items=0-1", 100), Whole);
        assert_eq!(requested(&HeaderMap::new(), 100), Whole);
    }
}
