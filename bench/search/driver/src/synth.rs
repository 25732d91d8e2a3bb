//! Deterministic synthetic agents and customer queries built from the seed catalog.
//!
//! Every agent takes the (job role, skill, industry, team) of one seed agent, a generated name
//! and a description assembled from that seed agent's own description, the skill's and the job
//! role's descriptions and templated phrases. Agent `i` depends only on `i`, so a catalog of
//! 100k starts with the same 10k agents as the catalog of 10k.

use plant_core::search::agent_text;
use plant_core::seed::SeedCatalog;
use uuid::Uuid;

/// splitmix64: small, fast, good enough to spread template choices.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "Ava", "Ben", "Cleo", "Dara", "Eli", "Fern", "Gus", "Hana", "Ira", "Jules", "Kai", "Lena",
    "Milo", "Nia", "Otto", "Pia", "Quinn", "Rosa", "Sami", "Tess", "Uma", "Vik", "Wren", "Xan",
    "Yara", "Zed", "Amir", "Bea", "Cyrus", "Dina", "Emil", "Faye", "Gio", "Hugo", "Isla", "Jonas",
];
const LAST: &[&str] = &[
    "Arden", "Brook", "Cole", "Drake", "Ember", "Flux", "Grove", "Hale", "Ivers", "Jett", "Knox",
    "Lark", "Moss", "North", "Oak", "Pike", "Quill", "Reed", "Stone", "Thorne", "Vale", "West",
    "Wilde", "York", "Zane", "Ash", "Birch", "Crane", "Dune", "Frost",
];
const OPENERS: &[&str] = &[
    "Works with",
    "Built for",
    "Serves",
    "Partners with",
    "Specialises in helping",
    "Trusted by",
    "Supports",
    "Dedicated to",
    "Mostly hired by",
    "A good fit for",
];
const AUDIENCES: &[&str] = &[
    "independent bookshops",
    "early-stage startups",
    "family-run restaurants",
    "regional hospitals",
    "online stores",
    "small law firms",
    "nonprofits",
    "secondary-school students",
    "parents of young children",
    "B2B software companies",
    "local gyms",
    "dental clinics",
    "real-estate agencies",
    "freelance designers",
    "manufacturing plants",
    "logistics teams",
    "university applicants",
    "wedding planners",
    "craft breweries",
    "insurance brokers",
    "community colleges",
    "mobile game studios",
    "fashion boutiques",
    "accounting practices",
    "travel agencies",
    "veterinary clinics",
    "solar installers",
    "coffee roasters",
    "city councils",
    "charities",
    "language schools",
    "home-care providers",
];
const FOCUS: &[&str] = &[
    "Focuses on quick turnaround.",
    "Strong on data-driven decisions.",
    "Known for clear weekly reports.",
    "Keeps a friendly, plain-spoken tone.",
    "Works in short two-week cycles.",
    "Good with tight budgets.",
    "Comfortable with regulated industries.",
    "Explains every step along the way.",
    "Prefers measurable goals.",
    "Brings ready-made templates and checklists.",
    "Patient with beginners.",
    "Handles large volumes without losing quality.",
    "Pays close attention to detail.",
    "Likes to start with a short audit.",
    "Sets up simple dashboards to track progress.",
    "Collaborates closely with in-house staff.",
    "Balances speed and care.",
    "Keeps everything documented.",
    "Adapts quickly to new tools.",
    "Takes on long-term engagements.",
];
const EXTRAS: &[&str] = &[
    "Available evenings and weekends.",
    "Speaks English and Spanish.",
    "Handles urgent requests.",
    "Offers a free first session.",
    "Fluent in French and German.",
    "Based in the EU time zones.",
    "Covers North American hours.",
    "Can start this week.",
    "",
    "",
    "",
    "",
];
const ASKS: &[&str] = &[
    "need help with {skill} for {audience}",
    "looking for a {role} who works with {audience}",
    "{audience} wanting {skill} support",
    "who can do {skill} in {industry}",
    "hire someone to {task}",
    "can anyone {task}",
    "we are {audience} and need a {role}",
    "affordable {skill} help, {industry}",
    "I want someone who {task}",
    "best agent for {skill} and {task}",
];

/// The parts of one seed agent a synthetic agent copies.
#[derive(Debug, Clone)]
pub struct Profile {
    pub role: String,
    pub skill: String,
    pub industry: String,
    pub team: Option<String>,
    pub seed_description: String,
    pub skill_description: String,
    pub role_description: String,
}

/// One synthetic agent.
#[derive(Debug, Clone)]
pub struct SynthAgent {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub profile: usize,
}

/// The generator: seed profiles plus the templates.
#[derive(Debug)]
pub struct Synth {
    pub profiles: Vec<Profile>,
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "Writes blog posts." -> "writes blog posts" (for the middle of a query).
fn as_task(s: &str) -> String {
    lower_first(s.trim_end_matches('.'))
}

impl Synth {
    pub fn new(seed: &SeedCatalog) -> Self {
        let profiles = seed
            .agents
            .iter()
            .map(|a| {
                let skill = seed.skills.iter().find(|s| s.name == a.skill);
                let role = seed.job_roles.iter().find(|r| r.name == a.job_role);
                Profile {
                    role: a.job_role.clone(),
                    skill: a.skill.clone(),
                    industry: a.industry.clone(),
                    team: a.team.clone(),
                    seed_description: a.description.clone(),
                    skill_description: skill.map(|s| s.description.clone()).unwrap_or_default(),
                    role_description: role.map(|r| r.description.clone()).unwrap_or_default(),
                }
            })
            .collect();
        Self { profiles }
    }

    /// Agent number `i` (0-based); the same for every run.
    pub fn agent(&self, i: u64) -> SynthAgent {
        let mut rng = Rng::new(0x5EED_0000_0000_0000 ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let mut id_bytes = [0u8; 16];
        id_bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
        id_bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
        let id = uuid::Builder::from_random_bytes(id_bytes).into_uuid();
        let profile = rng.below(self.profiles.len());
        let p = &self.profiles[profile];
        let name = format!("{} {} {:06}", rng.pick(FIRST), rng.pick(LAST), i);
        let core = match rng.below(3) {
            0 => p.seed_description.as_str(),
            1 => p.skill_description.as_str(),
            _ => p.role_description.as_str(),
        };
        let mut description = format!(
            "{} {}. {} {}",
            rng.pick(OPENERS),
            rng.pick(AUDIENCES),
            core,
            rng.pick(FOCUS)
        );
        let extra = rng.pick(EXTRAS);
        if !extra.is_empty() {
            description.push(' ');
            description.push_str(extra);
        }
        SynthAgent {
            id,
            name,
            description,
            profile,
        }
    }

    /// The text the catalog embeds for this agent (the same function the catalog uses).
    pub fn text(&self, agent: &SynthAgent) -> String {
        let p = &self.profiles[agent.profile];
        agent_text(
            &agent.name,
            &agent.description,
            &p.role,
            &p.skill,
            &p.industry,
        )
    }

    /// `n` customer-style queries, different from any agent text; the same for every run.
    pub fn queries(&self, n: usize) -> Vec<String> {
        let mut rng = Rng::new(0x0051_AB1E_0000_0001);
        (0..n)
            .map(|_| {
                let p = rng.pick(&self.profiles);
                let task_source = match rng.below(3) {
                    0 => &p.seed_description,
                    1 => &p.skill_description,
                    _ => &p.role_description,
                };
                let task = as_task(task_source);
                rng.pick(ASKS)
                    .replace("{skill}", &p.skill.to_lowercase())
                    .replace("{role}", &p.role.to_lowercase())
                    .replace("{industry}", &p.industry.to_lowercase())
                    .replace("{audience}", rng.pick::<&str>(AUDIENCES))
                    .replace("{task}", &task)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synth() -> Synth {
        Synth::new(&SeedCatalog::builtin().expect("builtin seed parses"))
    }

    #[test]
    fn agents_are_deterministic_and_distinct() {
        let s = synth();
        let a = s.agent(42);
        let b = s.agent(42);
        assert_eq!(a.id, b.id);
        assert_eq!(a.description, b.description);
        let names: std::collections::HashSet<String> =
            (0..2000).map(|i| s.agent(i).name.to_lowercase()).collect();
        assert_eq!(names.len(), 2000);
        let texts: std::collections::HashSet<String> =
            (0..2000).map(|i| s.text(&s.agent(i))).collect();
        assert_eq!(texts.len(), 2000);
    }

    #[test]
    fn queries_are_deterministic_and_varied() {
        let s = synth();
        let q = s.queries(300);
        assert_eq!(q, s.queries(300));
        let distinct: std::collections::HashSet<&String> = q.iter().collect();
        assert!(distinct.len() > 200, "{} distinct", distinct.len());
        assert!(q.iter().all(|t| !t.contains('{') && t.len() <= 1000));
    }
}
