//! Resolving a `SeekInfo`'s start and stop positions against a ledger height, as
//! Fabric's file ledger iterator and deliver handler do.

use weft_proto::common::Status;
use weft_proto::orderer::SeekPosition;
use weft_proto::orderer::seek_position::Type;

/// The blocks to send: `start..=stop` (`stop` may lie far beyond the height).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SeekRange {
    pub(super) start: u64,
    pub(super) stop: u64,
}

/// Resolves `start` and `stop` at ledger `height`, or says which status ends the request.
///
/// Start: Oldest → 0; Newest → height − 1; Specified n → n, NOT_FOUND if n > height
/// (n = height waits for the next block); NextCommit → height; no position type →
/// NOT_FOUND. Stop: Oldest → start (one block); Newest → start if start is Newest too,
/// else height − 1; Specified m → m; no position type → BAD_REQUEST. stop < start →
/// BAD_REQUEST. On an empty ledger, Newest means block 0.
pub(super) fn resolve(
    start: &SeekPosition,
    stop: &SeekPosition,
    height: u64,
) -> Result<SeekRange, Status> {
    let newest = height.saturating_sub(1);
    let start_number = match start.r#type {
        Some(Type::Oldest(_)) => 0,
        Some(Type::Newest(_)) => newest,
        Some(Type::Specified(s)) if s.number > height => return Err(Status::NotFound),
        Some(Type::Specified(s)) => s.number,
        Some(Type::NextCommit(_)) => height,
        None => return Err(Status::NotFound),
    };
    let stop_number = match (stop.r#type, start.r#type) {
        (Some(Type::Oldest(_)), _) => start_number,
        (Some(Type::Newest(_)), Some(Type::Newest(_))) => start_number,
        (Some(Type::Newest(_)), _) => newest,
        (Some(Type::Specified(s)), _) => s.number,
        (Some(Type::NextCommit(_)), _) => height,
        (None, _) => return Err(Status::BadRequest),
    };
    if stop_number < start_number {
        return Err(Status::BadRequest);
    }
    Ok(SeekRange {
        start: start_number,
        stop: stop_number,
    })
}

#[cfg(test)]
mod tests {
    use weft_proto::orderer::{SeekNewest, SeekNextCommit, SeekOldest, SeekSpecified};

    use super::*;

    fn oldest() -> SeekPosition {
        SeekPosition {
            r#type: Some(Type::Oldest(SeekOldest {})),
        }
    }
    fn newest() -> SeekPosition {
        SeekPosition {
            r#type: Some(Type::Newest(SeekNewest {})),
        }
    }
    fn next_commit() -> SeekPosition {
        SeekPosition {
            r#type: Some(Type::NextCommit(SeekNextCommit {})),
        }
    }
    fn at(number: u64) -> SeekPosition {
        SeekPosition {
            r#type: Some(Type::Specified(SeekSpecified { number })),
        }
    }
    fn range(start: u64, stop: u64) -> Result<SeekRange, Status> {
        Ok(SeekRange { start, stop })
    }

    #[test]
    fn starts() {
        assert_eq!(resolve(&oldest(), &at(9), 5), range(0, 9));
        assert_eq!(resolve(&newest(), &at(9), 5), range(4, 9));
        assert_eq!(resolve(&at(3), &at(9), 5), range(3, 9));
        assert_eq!(resolve(&at(5), &at(9), 5), range(5, 9));
        assert_eq!(resolve(&at(6), &at(9), 5), Err(Status::NotFound));
        assert_eq!(resolve(&next_commit(), &at(9), 5), range(5, 9));
        assert_eq!(
            resolve(&SeekPosition::default(), &at(9), 5),
            Err(Status::NotFound)
        );
    }

    #[test]
    fn stops() {
        assert_eq!(resolve(&at(2), &oldest(), 5), range(2, 2));
        assert_eq!(resolve(&next_commit(), &oldest(), 5), range(5, 5));
        assert_eq!(resolve(&oldest(), &newest(), 5), range(0, 4));
        assert_eq!(resolve(&newest(), &newest(), 5), range(4, 4));
        assert_eq!(resolve(&at(1), &at(u64::MAX), 5), range(1, u64::MAX));
        assert_eq!(resolve(&next_commit(), &next_commit(), 5), range(5, 5));
        assert_eq!(
            resolve(&at(1), &SeekPosition::default(), 5),
            Err(Status::BadRequest)
        );
    }

    #[test]
    fn stop_before_start_is_a_bad_request() {
        assert_eq!(resolve(&at(3), &at(2), 5), Err(Status::BadRequest));
        assert_eq!(
            resolve(&next_commit(), &newest(), 5),
            Err(Status::BadRequest)
        );
        // An unreachable start is reported first, as Fabric does.
        assert_eq!(resolve(&at(7), &at(6), 5), Err(Status::NotFound));
    }

    #[test]
    fn empty_ledger() {
        assert_eq!(resolve(&newest(), &newest(), 0), range(0, 0));
        assert_eq!(resolve(&oldest(), &newest(), 0), range(0, 0));
        assert_eq!(resolve(&at(0), &at(0), 0), range(0, 0));
        assert_eq!(resolve(&at(1), &at(1), 0), Err(Status::NotFound));
    }
}
