//! `DeliveryStore` cases after an attempt fails for good: parking (which blocks the patient's
//! group, so its later deliveries are held), redriving, and listing.

use super::*;

pub(super) fn cases() -> Vec<Case<DeliveryStoreSet>> {
    cases![
        deliveries_parking_holds_the_groups_later_deliveries_only,
        deliveries_a_second_park_keeps_the_first_block,
        deliveries_redrive_requeues_the_parked_and_held_in_creation_order,
        deliveries_redrive_of_a_delivery_not_parked_conflicts_and_writes_nothing,
        deliveries_list_newest_first_optionally_by_state,
    ]
}

async fn deliveries_parking_holds_the_groups_later_deliveries_only(s: DeliveryStoreSet) {
    let first = delivery("dlv-0001", "lead-1", 0);
    accept(&s, "1", 0, std::slice::from_ref(&first)).await;
    let later = delivery("dlv-0002", "lead-1", 10);
    let other = delivery("dlv-0003", "lead-2", 10);
    let lapsed = delivery("dlv-0004", "lead-1", 10);
    accept(&s, "2", 10, &[later.clone(), other.clone(), lapsed.clone()]).await;
    // dlv-0004's worker holds it (the store does not order a group's claims: the queue does).
    granted(&s, "dlv-0004", 11).await;

    granted(&s, "dlv-0001", 20).await;
    let (_, result) = finish(&s, "dlv-0001", 1, &AttemptEnd::Park, "rejected_AR", 21).await;
    let parked = result.unwrap();
    assert_eq!(
        parked,
        Delivery {
            state: DeliveryState::Parked,
            attempts: 1,
            last_outcome: Some("rejected_AR".into()),
            updated_at: fixtures::at(21),
            ..first
        }
    );

    let held = Delivery {
        state: DeliveryState::Held,
        last_outcome: Some("held".into()),
        held_behind: Some(id("dlv-0001")),
        updated_at: fixtures::at(30),
        ..later
    };
    let why = "held behind the parked delivery, no attempt counted";
    assert_claimed(&s, "dlv-0002", 30, DeliveryClaim::Settled(held), why).await;

    assert_eq!(
        claim(&s, "dlv-0003", 31).await,
        DeliveryClaim::Granted(delivering(&other, 1, 31)),
        "another patient's group proceeds"
    );

    // dlv-0004's worker crashed: once its lease lapses, the claim finds the group blocked.
    let DeliveryClaim::Settled(held_too) = claim(&s, "dlv-0004", 71).await else {
        panic!("a lapsed claim in a blocked group is settled as held");
    };
    assert_eq!(
        (
            held_too.state,
            held_too.held_behind.clone(),
            held_too.attempts,
            held_too.lease_until
        ),
        (DeliveryState::Held, Some(id("dlv-0001")), 1, None)
    );
    assert_eq!(get(&s, "dlv-0004").await, held_too);
    assert_eq!(
        get(&s, "dlv-0001").await,
        parked,
        "the parked delivery is untouched"
    );
}

async fn deliveries_a_second_park_keeps_the_first_block(s: DeliveryStoreSet) {
    accept_new(
        &s,
        &[
            ("dlv-0001", "lead-1"),
            ("dlv-0002", "lead-1"),
            ("dlv-0003", "lead-1"),
        ],
    )
    .await;
    granted(&s, "dlv-0002", 1).await;
    park(&s, "dlv-0001", 2).await;
    let (_, result) = finish(&s, "dlv-0002", 1, &AttemptEnd::Park, "rejected_CR", 3).await;
    assert_eq!(result.unwrap().state, DeliveryState::Parked);
    let DeliveryClaim::Settled(held) = claim(&s, "dlv-0003", 4).await else {
        panic!("the group is blocked");
    };
    assert_eq!(
        held.held_behind,
        Some(id("dlv-0001")),
        "the group stays blocked by the first parked delivery"
    );
}

async fn deliveries_redrive_requeues_the_parked_and_held_in_creation_order(s: DeliveryStoreSet) {
    // lead-1: dlv-0001 (oldest) is being delivered when dlv-0002 parks; dlv-0003 and dlv-0004
    // come later. lead-2 has its own parked and held deliveries, which stay.
    let (oldest, parked_one) = (
        delivery("dlv-0001", "lead-1", 0),
        delivery("dlv-0002", "lead-1", 10),
    );
    accept(&s, "1", 0, std::slice::from_ref(&oldest)).await;
    accept(&s, "1", 10, std::slice::from_ref(&parked_one)).await;
    let (third, fourth) = (
        delivery("dlv-0003", "lead-1", 20),
        delivery("dlv-0004", "lead-1", 20),
    );
    let other_parked = delivery("dlv-0005", "lead-2", 20);
    let other_held = delivery("dlv-0006", "lead-2", 20);
    accept(
        &s,
        "1",
        20,
        &[third.clone(), fourth.clone(), other_parked, other_held],
    )
    .await;
    granted(&s, "dlv-0001", 21).await;
    park(&s, "dlv-0002", 22).await;
    park(&s, "dlv-0005", 22).await;
    for (held, at) in [
        ("dlv-0004", 23),
        ("dlv-0003", 24),
        ("dlv-0006", 24),
        ("dlv-0001", 90),
    ] {
        assert!(
            matches!(claim(&s, held, at).await, DeliveryClaim::Settled(d) if d.state == DeliveryState::Held),
            "{held} is held"
        );
    }
    let lead_2 = [get(&s, "dlv-0005").await, get(&s, "dlv-0006").await];
    let before = outbound_audits(&s).await;

    let (entry, result) = redrive(&s, "dlv-0002", 100).await;
    let mut expected = Vec::new();
    for (name, original) in [
        ("dlv-0001", oldest),
        ("dlv-0002", parked_one),
        ("dlv-0003", third),
        ("dlv-0004", fourth),
    ] {
        let stored = get(&s, name).await;
        let requeued = Delivery {
            state: DeliveryState::Queued,
            attempts: 0,
            lease_until: None,
            next_attempt_at: None,
            held_behind: None,
            updated_at: fixtures::at(100),
            ..original
        };
        assert_eq!(
            stored,
            Delivery {
                last_outcome: stored.last_outcome.clone(),
                ..requeued.clone()
            },
            "{name} is queued again"
        );
        expected.push(stored);
    }
    assert_eq!(
        result.unwrap(),
        expected,
        "the parked delivery and the group's held ones, in creation order"
    );
    assert_eq!(
        expected[1].last_outcome.as_deref(),
        Some("rejected_AR"),
        "the last outcome is kept"
    );
    assert_eq!(
        [get(&s, "dlv-0005").await, get(&s, "dlv-0006").await],
        lead_2,
        "another group's parked and held deliveries stay"
    );
    let mut audits = vec![entry];
    audits.extend(before);
    assert_eq!(outbound_audits(&s).await, audits, "the redrive is audited");

    // The group is unblocked: its deliveries are claimed (attempt 1) again.
    for (name, at) in [
        ("dlv-0001", 101),
        ("dlv-0002", 102),
        ("dlv-0003", 103),
        ("dlv-0004", 104),
    ] {
        let d = granted(&s, name, at).await;
        assert_eq!((d.attempts, d.held_behind), (1, None), "{name}");
    }
    assert!(
        matches!(claim(&s, "dlv-0006", 105).await, DeliveryClaim::Settled(d) if d.state == DeliveryState::Held),
        "lead-2 is still blocked"
    );
}

async fn deliveries_redrive_of_a_delivery_not_parked_conflicts_and_writes_nothing(
    s: DeliveryStoreSet,
) {
    let (_, unknown) = redrive(&s, "dlv-0404", 0).await;
    assert_not_found(unknown);

    accept_new(
        &s,
        &[
            ("dlv-0001", "lead-1"),
            ("dlv-0002", "lead-1"),
            ("dlv-0003", "lead-1"),
            ("dlv-0004", "lead-2"),
            ("dlv-0005", "lead-3"),
            ("dlv-0006", "lead-4"),
        ],
    )
    .await;
    park(&s, "dlv-0001", 1).await;
    claim(&s, "dlv-0002", 2).await; // held
    granted(&s, "dlv-0004", 3).await; // delivering
    granted(&s, "dlv-0005", 4).await;
    let (_, result) = finish(&s, "dlv-0005", 1, &AttemptEnd::Delivered, "delivered", 5).await;
    result.unwrap();
    granted(&s, "dlv-0006", 6).await;
    let retry = AttemptEnd::Retry {
        next_attempt_at: fixtures::at(60),
    };
    let (_, result) = finish(&s, "dlv-0006", 1, &retry, "not_sent", 7).await;
    result.unwrap();

    let names = [
        "dlv-0001", "dlv-0002", "dlv-0003", "dlv-0004", "dlv-0005", "dlv-0006",
    ];
    let mut before = Vec::new();
    for name in names {
        before.push(get(&s, name).await);
    }
    let audits = outbound_audits(&s).await;
    // held, queued, delivering, delivered, retrying
    for name in &names[1..] {
        let (_, refused) = redrive(&s, name, 10).await;
        assert_conflict(refused);
    }
    let mut after = Vec::new();
    for name in names {
        after.push(get(&s, name).await);
    }
    assert_eq!(after, before, "a refused redrive changes nothing");
    assert_eq!(outbound_audits(&s).await, audits, "nor audits anything");
    assert!(
        matches!(claim(&s, "dlv-0003", 11).await, DeliveryClaim::Settled(d) if d.state == DeliveryState::Held),
        "nor unblocks the group"
    );
}

async fn deliveries_list_newest_first_optionally_by_state(s: DeliveryStoreSet) {
    assert_eq!(
        s.deliveries.list(None, 10).await.unwrap(),
        Vec::<Delivery>::new()
    );
    accept(&s, "1", 0, &[delivery("dlv-0001", "lead-1", 0)]).await;
    accept(
        &s,
        "2",
        10,
        &[
            delivery("dlv-0002", "lead-2", 10),
            delivery("dlv-0003", "lead-3", 10),
        ],
    )
    .await;
    accept(&s, "4", 20, &[delivery("dlv-0004", "lead-4", 20)]).await;
    park(&s, "dlv-0002", 30).await;
    granted(&s, "dlv-0004", 31).await;

    let ids = |list: Vec<Delivery>| {
        list.into_iter()
            .map(|d| d.delivery_id.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    let all = s.deliveries.list(None, 10).await.unwrap();
    assert_eq!(
        ids(all.clone()),
        ["dlv-0004", "dlv-0003", "dlv-0002", "dlv-0001"],
        "newest first (created_at, then id)"
    );
    let mut stored = Vec::new();
    for name in ["dlv-0004", "dlv-0003", "dlv-0002", "dlv-0001"] {
        stored.push(get(&s, name).await);
    }
    assert_eq!(all, stored, "listed in full");
    assert_eq!(
        ids(s.deliveries.list(None, 2).await.unwrap()),
        ["dlv-0004", "dlv-0003"],
        "at most `limit`"
    );
    let by_state: [(DeliveryState, usize, &[&str]); 5] = [
        (DeliveryState::Queued, 10, &["dlv-0003", "dlv-0001"]),
        (DeliveryState::Queued, 1, &["dlv-0003"]),
        (DeliveryState::Parked, 10, &["dlv-0002"]),
        (DeliveryState::Delivering, 10, &["dlv-0004"]),
        (DeliveryState::Delivered, 10, &[]),
    ];
    for (state, limit, expected) in by_state {
        let listed = s.deliveries.list(Some(state), limit).await.unwrap();
        assert_eq!(ids(listed), expected, "{state:?}, at most {limit}");
    }
}
