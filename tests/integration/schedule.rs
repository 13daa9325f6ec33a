//! Epoch schedules: the counts the papers report, and the reference lists.

use infoplane_core::{Error, Schedule};
use infoplane_tests::reference::{log_schedule, saxe_schedule};

#[test]
fn tishby_log_schedule_400_points_of_8000() {
    let s = Schedule::Log { points: 400 };
    let epochs: Vec<u32> = s.epochs(8000).collect();
    assert_eq!(epochs.len(), 274);
    assert_eq!(
        epochs[..44],
        (0..=43).collect::<Vec<_>>()[..],
        "every epoch 0..=43 first"
    );
    assert_ne!(epochs[44], 44, "then log-spaced");
    assert_eq!(epochs.last(), Some(&7999));
    assert!(epochs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(epochs, log_schedule(8000, 400));
}

#[test]
fn tishby_paper_log_schedule_1800_points_of_10000() {
    let epochs: Vec<u32> = Schedule::Log { points: 1800 }.epochs(10_000).collect();
    assert_eq!(epochs.len(), 964);
    assert_eq!(epochs.first(), Some(&0));
    // Not 9999: log₂ 10000 rounds down in f64 and 2^13.287712379549449 = 9999.999999999995,
    // which astype(int) truncates to 9999, minus 1. numpy's logspace does the same (checked
    // with CPython's float pow, which is the C pow numpy uses), so the paper's last logged
    // epoch is 9998.
    assert_eq!(epochs.last(), Some(&9998));
    assert_eq!(epochs, log_schedule(10_000, 1800));
}

#[test]
fn saxe_schedule_of_10000() {
    let epochs: Vec<u32> = Schedule::Saxe.epochs(10_000).collect();
    assert_eq!(epochs.len(), 211);
    assert_eq!(epochs, saxe_schedule(10_000));
    // 20 + 16 + 95 + 80.
    assert_eq!(saxe_schedule(10_000).len(), 20 + 16 + 95 + 80);
}

#[test]
fn log_schedules_match_the_reference_for_many_sizes() {
    for total in [1u32, 2, 3, 10, 100, 999, 1000, 4096, 8000, 12_345] {
        for points in [2u32, 3, 10, 100, 400, 1800] {
            let got: Vec<u32> = Schedule::Log { points }.epochs(total).collect();
            assert_eq!(
                got,
                log_schedule(total, points),
                "total {total} points {points}"
            );
        }
    }
}

#[test]
fn contains_agrees_with_epochs() {
    let list = [0u32, 4, 5, 90, 499];
    for s in [
        Schedule::Every(7),
        Schedule::List(&list),
        Schedule::Log { points: 50 },
        Schedule::Saxe,
        Schedule::SaxeMnist,
    ] {
        let total = 500;
        let epochs: Vec<u32> = s.epochs(total).collect();
        for e in 0..total + 3 {
            assert_eq!(
                s.contains(e, total),
                epochs.binary_search(&e).is_ok(),
                "{s:?} epoch {e}"
            );
        }
    }
}

#[test]
fn validation() {
    assert_eq!(Schedule::Saxe.validate(0), Err(Error::EmptyInput));
    let bad = Err(Error::InvalidParameter { name: "schedule" });
    assert_eq!(Schedule::Every(0).validate(10), bad);
    assert_eq!(Schedule::Log { points: 1 }.validate(10), bad);
    assert_eq!(Schedule::List(&[]).validate(10), bad);
    assert_eq!(Schedule::List(&[3, 3]).validate(10), bad);
    assert_eq!(Schedule::List(&[5, 2]).validate(10), bad);
    assert_eq!(Schedule::List(&[10]).validate(10), bad);
    assert_eq!(Schedule::List(&[0, 9]).validate(10), Ok(()));
    assert_eq!(
        Schedule::Every(u32::MAX)
            .epochs(u32::MAX)
            .collect::<Vec<_>>(),
        [0]
    );
}

#[test]
fn written_forms_round_trip() {
    use infoplane_core::schedule::ScheduleSpec;
    for spec in [
        ScheduleSpec::Every(1),
        ScheduleSpec::Every(4_294_967_295),
        ScheduleSpec::Log(400),
        ScheduleSpec::Saxe,
        ScheduleSpec::SaxeMnist,
        ScheduleSpec::List(vec![0]),
        ScheduleSpec::List(vec![0, 5, 9, 1000]),
    ] {
        let text = spec.to_string();
        assert_eq!(ScheduleSpec::parse(&text), Ok(spec.clone()), "{text}");
        // The borrowed schedule writes the same text.
        let fixed = spec.fixed().unwrap();
        assert_eq!(fixed.to_string(), text);
        assert_eq!(ScheduleSpec::from(fixed), spec);
    }
    // Delta skip has no fixed schedule; its threshold survives the round trip exactly.
    for (text, exact, delta) in [
        ("delta-exact:0.01", true, 0.01),
        ("delta-approx:0.05", false, 0.05),
        ("delta-exact:0", true, 0.0),
        ("delta-exact:-0", true, 0.0),
        (
            "delta-exact:0.1000000000000000055511151231257827",
            true,
            0.1,
        ),
    ] {
        let spec = ScheduleSpec::parse(text).unwrap();
        assert_eq!(spec, ScheduleSpec::Delta { exact, delta }, "{text}");
        assert!(!spec.to_string().contains('-') || spec.to_string().starts_with("delta-"));
        assert!(!spec.to_string().contains(":-"), "{spec}");
        assert_eq!(spec.fixed(), None);
        assert_eq!(spec.count(100), None);
        assert_eq!(ScheduleSpec::parse(&spec.to_string()), Ok(spec.clone()));
        assert_eq!(spec.validate(100), Ok(()));
        assert_eq!(spec.validate(0), Err(Error::EmptyInput));
    }
    for bad in [
        "delta-exact:-0.1",
        "delta-exact:inf",
        "delta-approx:NaN",
        "delta-exact:",
        "delta:0.1",
        "delta-exact:0.1x",
    ] {
        assert_eq!(
            ScheduleSpec::parse(bad),
            Err(Error::InvalidParameter { name: "schedule" }),
            "{bad}"
        );
    }
    // Spaces are allowed and written away.
    for (given, canonical) in [
        (" every: 20 ", "every:20"),
        ("list: 0, 5 ,9", "list:0,5,9"),
        ("log:400", "log:400"),
        (" saxe", "saxe"),
    ] {
        assert_eq!(ScheduleSpec::parse(given).unwrap().to_string(), canonical);
    }
    for bad in [
        "",
        "every",
        "every:",
        "every:-1",
        "every:1.5",
        "log:x",
        "list:",
        "list:1,,2",
        "saxe:1",
        "linear:3",
        "every:4294967296",
    ] {
        assert_eq!(
            ScheduleSpec::parse(bad),
            Err(Error::InvalidParameter { name: "schedule" }),
            "{bad:?}"
        );
    }
}
