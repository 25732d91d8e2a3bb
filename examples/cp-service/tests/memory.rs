//! The example's flow on the in-memory store.

use cp_service::{agents_of, book_trial, open_catalog};
use plant_core::model::TrialStatus;

#[tokio::test]
async fn lists_education_agents_and_books_a_seven_day_trial() {
    let catalog = open_catalog(None).await.expect("the seeded memory catalog");
    let agents = agents_of(&catalog, "education").await.expect("agents");
    assert_eq!(agents.len(), 20);
    assert!(
        agents
            .iter()
            .all(|a| !a.role.is_empty() && !a.skill.is_empty())
    );

    let trial = book_trial(
        &catalog,
        &agents[0],
        "Example Customer",
        "Customer@Example.com",
    )
    .await
    .expect("booked");
    assert_eq!(trial.agent_id.to_string(), agents[0].id);
    assert_eq!(trial.status, TrialStatus::Active);
    assert_eq!(trial.customer_email.as_str(), "customer@example.com");
    assert_eq!(trial.version, 1);
    let json = serde_json::to_value(&trial).expect("serializes");
    assert_eq!(json["status"], "active");
}

#[tokio::test]
async fn an_unknown_industry_is_an_error_not_an_empty_list() {
    let catalog = open_catalog(None).await.expect("the seeded memory catalog");
    let err = agents_of(&catalog, "Astronomy").await.expect_err("unknown");
    assert!(err.to_string().contains("Astronomy"), "{err}");
}
