//! Client routing headers: `fly-prefer-region`, `fly-force-region`,
//! `fly-prefer-instance-id`, `fly-force-instance-id` (reference §6.5).

use hyper::header::HeaderMap;

use crate::routes::MachineRoute;

/// Where a request asks to be served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Placement {
    /// Regions in order of preference (empty: closest first).
    pub(crate) regions: Vec<String>,
    /// Only the listed regions may serve the request.
    pub(crate) force_region: bool,
    /// Try this Machine first, fall back to any.
    pub(crate) prefer_instance: Option<String>,
    /// Only this Machine may serve the request.
    pub(crate) force_instance: Option<String>,
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn region_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|r| r.trim().to_ascii_lowercase())
        .filter(|r| !r.is_empty())
        .collect()
}

impl Placement {
    /// Reads the routing headers of a request; forcing wins over preferring.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Placement {
        let mut placement = Placement::default();
        if let Some(regions) = header(headers, "fly-force-region") {
            placement.regions = region_list(regions);
            placement.force_region = !placement.regions.is_empty();
        } else if let Some(regions) = header(headers, "fly-prefer-region") {
            placement.regions = region_list(regions);
        }
        placement.force_instance = header(headers, "fly-force-instance-id").map(str::to_string);
        placement.prefer_instance = header(headers, "fly-prefer-instance-id").map(str::to_string);
        placement
    }

    /// May this Machine serve the request at all?
    pub(crate) fn allows(&self, route: &MachineRoute) -> bool {
        if let Some(id) = &self.force_instance {
            if &route.id != id {
                return false;
            }
        }
        !self.force_region || self.regions.iter().any(|r| r == &route.region)
    }

    /// Lower is closer: listed regions in their order, then the proxy's own
    /// region, then the rest.
    pub(crate) fn region_rank(&self, region: &str, local_region: &str) -> usize {
        match self.regions.iter().position(|r| r == region) {
            Some(i) => i,
            None if region == local_region => self.regions.len(),
            None => self.regions.len() + 1,
        }
    }

    /// Is this the Machine the client prefers?
    pub(crate) fn is_preferred(&self, route: &MachineRoute) -> bool {
        self.prefer_instance.as_deref() == Some(route.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn force_region_wins_over_prefer_region() {
        let p = Placement::from_headers(&headers(&[
            ("fly-prefer-region", "syd"),
            ("fly-force-region", " LHR , ams ,"),
        ]));
        assert_eq!(p.regions, ["lhr", "ams"]);
        assert!(p.force_region);
    }

    #[test]
    fn listed_regions_rank_before_local_before_others() {
        let p = Placement::from_headers(&headers(&[("fly-prefer-region", "syd,lhr")]));
        assert!(!p.force_region);
        let rank = |r| p.region_rank(r, "ams");
        assert!(rank("syd") < rank("lhr"));
        assert!(rank("lhr") < rank("ams"));
        assert!(rank("ams") < rank("nrt"));
        let none = Placement::default();
        assert!(none.region_rank("ams", "ams") < none.region_rank("nrt", "ams"));
    }

    #[test]
    fn empty_headers_ask_for_nothing() {
        let p = Placement::from_headers(&headers(&[("fly-force-instance-id", "  ")]));
        assert_eq!(p, Placement::default());
    }
}
