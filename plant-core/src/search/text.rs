//! The text that represents each catalog entry to an embedder.
//!
//! Stored vectors and the quality test both go through these functions, so what is measured is
//! what is served. Changing them changes every vector: re-embed afterwards.

/// The text embedded for an agent: its name, job role, skill, industry and description.
///
/// ```
/// use plant_core::search::agent_text;
///
/// let text = agent_text("Pax Arden", "Helps kids with fractions.", "Math Tutor", "Math Tutoring", "Education");
/// assert_eq!(text, "Pax Arden, Math Tutor (Math Tutoring, Education). Helps kids with fractions.");
/// ```
pub fn agent_text(
    name: &str,
    description: &str,
    job_role: &str,
    skill: &str,
    industry: &str,
) -> String {
    format!("{name}, {job_role} ({skill}, {industry}). {description}")
}

/// The text embedded for an industry, skill or job role: its name and description.
///
/// ```
/// use plant_core::search::named_text;
///
/// assert_eq!(named_text("SEO", "Gets pages found."), "SEO. Gets pages found.");
/// ```
pub fn named_text(name: &str, description: &str) -> String {
    format!("{name}. {description}")
}
