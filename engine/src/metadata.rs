//! What a bucket's measurements are and which series they hold, without reading Parquet: the
//! series index of the files (see `series`) and the series of the rows still in memory.

use std::collections::{BTreeMap, HashSet};

use crate::series::{day_of, MeasurementSeries, SeriesKey};
use crate::{Engine, Result, SnapshotRequest};

impl Engine {
    /// Per measurement of `req`'s bucket (those `req` names, or all), its distinct series with
    /// a point in `req`'s time range, sorted by measurement. Files count by UTC day (a file's
    /// series count for every time of its day); rows in memory by their own times. An unknown
    /// bucket or measurement gives nothing.
    pub fn series(&self, req: SnapshotRequest<'_>) -> Result<Vec<MeasurementSeries>> {
        let wanted = |m: &str| req.measurements.is_none_or(|ms| ms.contains(&m));
        // Memory first, then files: a row a flush moves in between is in the snapshot's
        // rows, and the index already has every file the snapshot saw.
        let snapshot = self.snapshot(req)?;
        let mut found: BTreeMap<String, HashSet<SeriesKey>> = BTreeMap::new();
        for table in snapshot.tables() {
            let set = found.entry(table.measurement.clone()).or_default();
            for rows in &table.rows {
                set.extend(crate::series::distinct(
                    &rows.batch,
                    req.min_time_ns,
                    req.max_time_ns,
                )?);
            }
        }
        self.inner.series.lock().collect(
            req.bucket,
            &wanted,
            day_of(req.min_time_ns),
            day_of(req.max_time_ns),
            &mut found,
        );
        Ok(found
            .into_iter()
            .filter(|(_, set)| !set.is_empty())
            .map(|(measurement, set)| {
                let mut series: Vec<SeriesKey> = set.into_iter().collect();
                series.sort();
                MeasurementSeries {
                    measurement,
                    series,
                }
            })
            .collect())
    }
}
