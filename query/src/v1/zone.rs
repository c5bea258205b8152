//! `GROUP BY time(…)` windows, in UTC or, with `tz('…')`, aligned to a time zone's local clock
//! (a day window starts at local midnight across DST changes), computed as 1.x does; and the
//! DataFusion function that assigns each row its window when a zone makes `date_bin`'s fixed
//! origin wrong.

use std::sync::Arc;

use arrow::array::{Array, AsArray, TimestampNanosecondArray};
use arrow::datatypes::{DataType, TimeUnit, TimestampNanosecondType};
use chrono::{Offset, TimeZone};
use chrono_tz::Tz;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The time zone a statement's `tz('…')` names (1.x's error text when it names none).
pub(super) fn parse(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("unable to find time zone {name}"))
}

/// A zone's offset from UTC at instant `t` (ns).
pub(super) fn offset_ns(tz: Tz, t: i64) -> i64 {
    let utc = chrono::DateTime::from_timestamp_nanos(t).naive_utc();
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()) * 1_000_000_000
}

/// A statement's windows: interval, offset (ns) and zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Windows {
    pub(super) interval: i64,
    pub(super) offset: i64,
    pub(super) tz: Option<Tz>,
}

impl Windows {
    /// The start of the window `t` falls in.
    pub(super) fn start(&self, t: i64) -> i64 {
        let t = t.saturating_sub(self.offset);
        let zone = self.tz.map_or(0, |tz| offset_ns(tz, t));
        let mut start = t.saturating_sub(t.saturating_add(zone).rem_euclid(self.interval));
        if let Some(tz) = self.tz {
            // The start may be on the other side of a DST change than `t`: realign it to the
            // local clock unless the change is as long as a window.
            let o = zone - offset_ns(tz, start);
            if o != 0 && o.abs() < self.interval {
                start = start.saturating_add(o);
            }
        }
        start.saturating_add(self.offset)
    }

    /// The start of the window after the one starting at `start`.
    pub(super) fn next(&self, start: i64) -> Option<i64> {
        let guess = start.checked_add(self.interval)?;
        let next = self.start(guess);
        Some(match next > start {
            true => next,
            false => guess,
        })
    }
}

/// `influxql_window(time)`: the start of each row's window under a zone.
#[derive(Debug, PartialEq, Eq, Hash)]
struct WindowUdf {
    windows: Windows,
    signature: Signature,
}

impl ScalarUDFImpl for WindowUdf {
    fn name(&self) -> &str {
        "influxql_window"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Timestamp(
            TimeUnit::Nanosecond,
            Some("UTC".into()),
        ))
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(time) = arrays.first() else {
            return Err(datafusion::error::DataFusionError::Plan(
                "influxql_window takes the time column".into(),
            ));
        };
        let time = time.as_primitive::<TimestampNanosecondType>();
        let out: TimestampNanosecondArray = time
            .iter()
            .map(|t| t.map(|t| self.windows.start(t)))
            .collect();
        Ok(ColumnarValue::Array(
            Arc::new(out.with_timezone("UTC")) as Arc<dyn Array>
        ))
    }
}

/// The DataFusion function computing `windows` per row.
pub(super) fn window_udf(windows: Windows) -> ScalarUDF {
    ScalarUDF::new_from_impl(WindowUdf {
        windows,
        signature: Signature::exact(
            vec![DataType::Timestamp(
                TimeUnit::Nanosecond,
                Some("UTC".into()),
            )],
            Volatility::Immutable,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000_000;

    #[test]
    fn day_windows_start_at_local_midnight_across_dst() {
        let chicago = parse("America/Chicago").expect("zone");
        let days = Windows {
            interval: 24 * HOUR,
            offset: 0,
            tz: Some(chicago),
        };
        // 2024-01-01T12:00:00Z is 06:00 CST: its day starts at 06:00 UTC.
        let noon = 1_704_110_400_000_000_000;
        assert_eq!(days.start(noon), noon - 6 * HOUR);
        // 2024-03-10 (DST begins 08:00 UTC): 2024-03-10T20:00Z is 15:00 CDT, its day began at
        // local midnight CST, 06:00 UTC.
        let after = 1_710_100_800_000_000_000;
        assert_eq!(days.start(after), 1_710_050_400_000_000_000);
        // The next day (CDT) starts at 05:00 UTC, 23 hours later.
        assert_eq!(
            days.next(days.start(after)),
            Some(1_710_050_400_000_000_000 + 23 * HOUR)
        );
        assert!(parse("Mars/Olympus").is_err());
        let utc = Windows {
            interval: 10,
            offset: 3,
            tz: None,
        };
        assert_eq!(utc.start(25), 23);
        assert_eq!(utc.start(-5), -7);
    }
}
