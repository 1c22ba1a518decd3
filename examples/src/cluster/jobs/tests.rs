use super::*;

fn heartbeat(node_id: &str, sequence: u64) -> Heartbeat {
    Heartbeat {
        node_id: node_id.to_owned(),
        sequence,
        running_jobs: Vec::new(),
    }
}

fn status(assignment: &JobAssigned, state: JobState) -> JobStatus {
    JobStatus {
        job_id: assignment.job_id.clone(),
        node_id: assignment.node_id.clone(),
        attempt: assignment.attempt,
        state,
        exit_code: None,
        error: None,
    }
}

fn finish(table: &mut JobTable, assignment: &JobAssigned, state: JobState) {
    for step in [JobState::Accepted, JobState::Running, state] {
        let outcome = table.apply_status(&status(assignment, step), Instant::now());
        assert!(
            matches!(outcome, StatusOutcome::Applied { .. }),
            "{step:?}: {outcome:?}"
        );
    }
}

fn bid(node_id: &str, accepted: bool, running_jobs: u32, capacity: u32) -> Bid {
    Bid {
        node_id: node_id.to_owned(),
        job_id: "job-0001".to_owned(),
        accepted,
        running_jobs,
        capacity,
        reason: None,
    }
}

/// Assigns up to `max` pending jobs as the orchestrator does, with each healthy node
/// bidding its number of unfinished jobs and no capacity limit.
fn assign_batch(table: &mut JobTable, max: usize, now: Instant) -> Vec<JobAssigned> {
    let mut assignments = Vec::new();
    for offer in table.pending_offers(max) {
        let bids: Vec<Bid> = table
            .healthy_nodes()
            .iter()
            .map(|node_id| {
                let running = u32::try_from(table.nodes()[node_id].active).unwrap();
                bid(node_id, true, running, u32::MAX)
            })
            .collect();
        let Some(chosen) = pick_bid(&bids, &HashMap::new()) else {
            break;
        };
        let assignment = table.assign(&offer.job_id, &chosen.node_id, now).unwrap();
        assert_eq!(assignment.attempt, offer.attempt);
        assignments.push(assignment);
    }
    assignments
}

#[test]
fn bid_from_least_loaded_node_with_room_wins() {
    let bids = [
        bid("node-1", true, 2, 4),
        bid("node-2", true, 1, 4),
        bid("node-3", false, 0, 4),
    ];
    assert_eq!(pick_bid(&bids, &HashMap::new()).unwrap().node_id, "node-2");

    // Jobs assigned since the bids count against the node's room and load.
    let planned = HashMap::from([("node-2".to_owned(), 2)]);
    assert_eq!(pick_bid(&bids, &planned).unwrap().node_id, "node-1");
    let full = HashMap::from([("node-1".to_owned(), 2), ("node-2".to_owned(), 3)]);
    assert!(pick_bid(&bids, &full).is_none());
}

#[test]
fn equal_bids_go_to_first_node_by_id() {
    let bids = [bid("node-2", true, 1, 4), bid("node-1", true, 1, 4)];
    assert_eq!(pick_bid(&bids, &HashMap::new()).unwrap().node_id, "node-1");
    assert!(pick_bid(&[], &HashMap::new()).is_none());
    assert!(pick_bid(&[bid("node-1", true, 4, 4)], &HashMap::new()).is_none());
}

#[test]
fn assign_takes_only_pending_jobs_for_healthy_nodes() {
    let mut table = JobTable::new(2, 0);
    let now = Instant::now();
    assert!(
        table.assign("job-0001", "node-1", now).is_none(),
        "unknown node"
    );
    table.record_heartbeat(&heartbeat("node-1", 1), now);

    let offers = table.pending_offers(5);
    let ids: Vec<&str> = offers.iter().map(|offer| offer.job_id.as_str()).collect();
    assert_eq!(ids, ["job-0001", "job-0002"]);
    assert_eq!(offers[1].attempt, 1);

    // The second job can be assigned before the first, as when the first gets no bid.
    let second = table.assign("job-0002", "node-1", now).unwrap();
    assert_eq!(second.attempt, 1);
    assert!(
        table.assign("job-0002", "node-1", now).is_none(),
        "no longer pending"
    );
    assert!(
        table.assign("job-9999", "node-1", now).is_none(),
        "unknown job"
    );
    assert_eq!(table.pending_offers(5).len(), 1);

    table.unassign(&second);
    let offers = table.pending_offers(5);
    assert_eq!(offers[0].job_id, "job-0002", "back at the front");
    assert_eq!(offers[0].attempt, 2);

    let later = now + Duration::from_secs(10);
    table.check_health(later, Duration::from_secs(1));
    assert!(table.healthy_nodes().is_empty());
    assert!(
        table.assign("job-0001", "node-1", later).is_none(),
        "unhealthy node"
    );
}

#[test]
fn nothing_is_assigned_without_healthy_node() {
    let mut table = JobTable::new(3, 0);
    assert!(assign_batch(&mut table, 3, Instant::now()).is_empty());
    assert_eq!(table.count(Phase::Pending), 3);
}

#[test]
fn assignments_spread_over_least_loaded_nodes() {
    let mut table = JobTable::new(4, 0);
    let now = Instant::now();
    assert_eq!(
        table.record_heartbeat(&heartbeat("node-1", 1), now),
        Some(HealthChange::Joined)
    );
    assert_eq!(
        table.record_heartbeat(&heartbeat("node-2", 1), now),
        Some(HealthChange::Joined)
    );

    let batch = assign_batch(&mut table, 3, Instant::now());
    let nodes: Vec<&str> = batch.iter().map(|job| job.node_id.as_str()).collect();
    assert_eq!(nodes, ["node-1", "node-2", "node-1"]);
    assert_eq!(batch[0].job_id, "job-0001");
    assert_eq!(batch[0].attempt, 1);
    assert_eq!(table.count(Phase::Assigned), 3);
    assert_eq!(table.count(Phase::Pending), 1);
}

#[test]
fn status_reports_move_job_to_final_state() {
    let mut table = JobTable::new(1, 0);
    table.record_heartbeat(&heartbeat("node-1", 1), Instant::now());
    let assignment = assign_batch(&mut table, 1, Instant::now()).remove(0);

    finish(&mut table, &assignment, JobState::Completed);

    assert!(table.all_finished());
    assert_eq!(table.nodes()["node-1"].completed, 1);
    assert_eq!(table.unexpected_outcomes(), 0);
}

#[test]
fn out_of_order_and_repeated_reports_are_ignored() {
    let mut table = JobTable::new(1, 0);
    table.record_heartbeat(&heartbeat("node-1", 1), Instant::now());
    let assignment = assign_batch(&mut table, 1, Instant::now()).remove(0);
    finish(&mut table, &assignment, JobState::Failed);

    let late_running = table.apply_status(&status(&assignment, JobState::Running), Instant::now());
    assert_eq!(
        late_running,
        StatusOutcome::OutOfOrder {
            phase: Phase::Failed
        }
    );
    let repeated = table.apply_status(&status(&assignment, JobState::Failed), Instant::now());
    assert_eq!(repeated, StatusOutcome::Repeated);
    let flipped = table.apply_status(&status(&assignment, JobState::Completed), Instant::now());
    assert_eq!(
        flipped,
        StatusOutcome::OutOfOrder {
            phase: Phase::Failed
        }
    );
    assert_eq!(table.nodes()["node-1"].failed, 1);
}

#[test]
fn unknown_job_is_reported() {
    let mut table = JobTable::new(1, 0);
    let mut report = status(
        &JobAssigned {
            job_id: "job-9999".into(),
            node_id: "node-1".into(),
            command: String::new(),
            simulated_exit_code: 0,
            attempt: 1,
        },
        JobState::Accepted,
    );
    assert_eq!(
        table.apply_status(&report, Instant::now()),
        StatusOutcome::UnknownJob
    );
    report.job_id = "job-0001".into();
    assert_eq!(
        table.apply_status(&report, Instant::now()),
        StatusOutcome::Stale
    );
}

#[test]
fn silent_node_loses_its_jobs() {
    let mut table = JobTable::new(2, 0);
    let start = Instant::now();
    table.record_heartbeat(&heartbeat("node-1", 1), start);
    let first = assign_batch(&mut table, 2, Instant::now());
    assert_eq!(first.len(), 2);
    finish(&mut table, &first[0], JobState::Completed);

    let timeout = Duration::from_secs(3);
    assert!(
        table
            .check_health(start + Duration::from_secs(2), timeout)
            .is_empty()
    );
    let changes = table.check_health(start + Duration::from_secs(4), timeout);
    assert_eq!(changes.len(), 1);
    let (node_id, change) = &changes[0];
    assert_eq!(node_id, "node-1");
    let HealthChange::Unhealthy { silence, requeued } = change else {
        panic!("expected Unhealthy, got {change:?}");
    };
    assert_eq!(*silence, Duration::from_secs(4));
    assert_eq!(requeued, &["job-0002"]);
    assert!(
        assign_batch(&mut table, 2, Instant::now()).is_empty(),
        "an unhealthy node must get no jobs"
    );

    // A report on the requeued attempt is stale.
    let stale = table.apply_status(&status(&first[1], JobState::Accepted), start);
    assert_eq!(stale, StatusOutcome::Stale);

    // Another node joins and gets the job as attempt 2.
    table.record_heartbeat(&heartbeat("node-2", 1), start + Duration::from_secs(4));
    let second = assign_batch(&mut table, 2, Instant::now());
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].job_id, "job-0002");
    assert_eq!(second[0].node_id, "node-2");
    assert_eq!(second[0].attempt, 2);
    assert_eq!(table.reassignments(), 1);
}

#[test]
fn heartbeat_after_silence_recovers_node() {
    let mut table = JobTable::new(1, 0);
    let start = Instant::now();
    table.record_heartbeat(&heartbeat("node-1", 1), start);
    let later = start + Duration::from_secs(5);
    table.check_health(later, Duration::from_secs(3));

    let old = table.record_heartbeat(&heartbeat("node-1", 1), later);
    assert_eq!(
        old, None,
        "a repeated sequence number must not refresh health"
    );
    let change = table.record_heartbeat(&heartbeat("node-1", 2), later);
    assert_eq!(change, Some(HealthChange::Recovered));
    assert!(table.nodes()["node-1"].healthy);
}

#[test]
fn fail_every_plans_failures() {
    let table = JobTable::new(10, 3);
    assert_eq!(table.planned_failures(), 3);
    assert_eq!(JobTable::new(10, 0).planned_failures(), 0);
}

#[test]
fn failed_job_planned_to_complete_is_unexpected() {
    let mut table = JobTable::new(1, 0);
    table.record_heartbeat(&heartbeat("node-1", 1), Instant::now());
    let assignment = assign_batch(&mut table, 1, Instant::now()).remove(0);
    finish(&mut table, &assignment, JobState::Failed);
    assert_eq!(table.unexpected_outcomes(), 1);
}

#[test]
fn unassigned_job_returns_to_queue_front() {
    let mut table = JobTable::new(2, 0);
    table.record_heartbeat(&heartbeat("node-1", 1), Instant::now());
    let batch = assign_batch(&mut table, 1, Instant::now());
    table.unassign(&batch[0]);
    assert_eq!(table.count(Phase::Pending), 2);
    let retry = assign_batch(&mut table, 1, Instant::now());
    assert_eq!(retry[0].job_id, "job-0001");
    assert_eq!(retry[0].attempt, 2);
}

#[test]
fn view_line_lists_phases_and_nodes() {
    let mut table = JobTable::new(2, 0);
    table.record_heartbeat(&heartbeat("node-1", 1), Instant::now());
    assign_batch(&mut table, 1, Instant::now());
    let line = table.view_line();
    assert_eq!(
        line,
        "jobs: 1 pending, 1 assigned, 0 accepted, 0 running, 0 completed, 0 failed  \
         |  node-1 healthy (1 active, 0 done)"
    );
}

#[test]
fn silent_job_is_resent_with_same_attempt() {
    let mut table = JobTable::new(2, 0);
    let start = Instant::now();
    table.record_heartbeat(&heartbeat("node-1", 1), start);
    let batch = assign_batch(&mut table, 2, start);
    let timeout = Duration::from_secs(2);

    assert!(
        table
            .take_overdue(start + Duration::from_secs(1), timeout)
            .is_empty()
    );
    // A report restarts the deadline of job-0001 only.
    let report = status(&batch[0], JobState::Accepted);
    let outcome = table.apply_status(&report, start + Duration::from_secs(1));
    assert_eq!(outcome, StatusOutcome::Applied { finished: false });

    let overdue = table.take_overdue(start + Duration::from_millis(2500), timeout);
    assert_eq!(overdue, [batch[1].clone()]);
    assert_eq!(table.redeliveries(), 1);
    assert_eq!(table.reassignments(), 0);
    assert_eq!(table.count(Phase::Assigned), 1);

    // The redelivery restarted the deadline of job-0002.
    let later = table.take_overdue(start + Duration::from_millis(3500), timeout);
    let ids: Vec<&str> = later.iter().map(|job| job.job_id.as_str()).collect();
    assert_eq!(ids, ["job-0001"]);
}

#[test]
fn repeated_report_restarts_deadline() {
    let mut table = JobTable::new(1, 0);
    let start = Instant::now();
    table.record_heartbeat(&heartbeat("node-1", 1), start);
    let assignment = assign_batch(&mut table, 1, start).remove(0);
    let timeout = Duration::from_secs(2);
    let running = status(&assignment, JobState::Running);
    table.apply_status(&running, start);

    let again = table.apply_status(&running, start + Duration::from_secs(2));

    assert_eq!(again, StatusOutcome::Repeated);
    assert!(
        table
            .take_overdue(start + Duration::from_secs(3), timeout)
            .is_empty()
    );
    assert_eq!(table.count(Phase::Running), 1);
}

#[test]
fn finished_and_unhealthy_jobs_are_not_resent() {
    let mut table = JobTable::new(2, 0);
    let start = Instant::now();
    table.record_heartbeat(&heartbeat("node-1", 1), start);
    let batch = assign_batch(&mut table, 2, start);
    finish(&mut table, &batch[0], JobState::Completed);
    let timeout = Duration::from_secs(2);
    table.check_health(start + Duration::from_secs(4), Duration::from_secs(3));

    let overdue = table.take_overdue(start + Duration::from_secs(4), timeout);

    assert!(overdue.is_empty(), "{overdue:?}");
    assert_eq!(table.count(Phase::Pending), 1);
    assert_eq!(table.redeliveries(), 0);
}
