//! `ticketd users`: add, promote and list the identity provider's users in a data directory.
//! Works while `ticketd serve` runs (the users file is shared through SQLite's locking), and a
//! promotion shows in the user's next token.

use std::error::Error;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use ticket_core::identity::{Group, on_user_confirmed};

use super::users::{self, NewUser, User, UserError, UserStore};

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Directory for the state; the users are in users.sqlite3 in it.
    #[arg(
        long,
        env = "TICKETD_DATA_DIR",
        default_value = ".ticketd",
        global = true
    )]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a confirmed user (an attendee, like every confirmed user, plus any --group).
    Add {
        email: String,
        /// Display name, printed on tickets (default: the email's local part).
        #[arg(long)]
        name: Option<String>,
        /// A group to add the user to (repeatable): organizer or attendee.
        #[arg(long = "group", value_parser = parse_group)]
        groups: Vec<Group>,
        /// The password; a strong one is generated and printed when left out.
        #[arg(long)]
        password: Option<String>,
    },
    /// Add the user to the organizer group (their next token carries it).
    Promote { email: String },
    /// List the users.
    List,
}

fn parse_group(text: &str) -> Result<Group, String> {
    text.parse()
        .map_err(|error: ticket_core::identity::UnknownGroup| error.to_string())
}

/// Creates a confirmed user: stored, through the post-confirmation trigger (attendee), then
/// added to `extra_groups`. Returns the user as stored.
pub async fn add_user(
    store: &UserStore,
    email: &str,
    name: &str,
    password: &str,
    extra_groups: &[Group],
    now: DateTime<Utc>,
) -> Result<User, Box<dyn Error + Send + Sync>> {
    let new_user = NewUser::validate(email, name, password)?;
    let user = store.create(new_user, now).await?;
    on_user_confirmed(store, &user.sub).await?;
    for group in extra_groups {
        store.add_to_group(&user.sub, *group).await?;
    }
    Ok(store.get(&user.sub).await?.ok_or(UserError::NotFound)?)
}

pub async fn run(args: UsersArgs) -> Result<(), Box<dyn Error + Send + Sync>> {
    std::fs::create_dir_all(&args.data_dir)?;
    let path = args.data_dir.join(users::USERS_FILE);
    let store = UserStore::open(&path)
        .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    match args.command {
        UsersCommand::Add {
            email,
            name,
            groups,
            password,
        } => {
            let generated = password.is_none();
            let password = password.unwrap_or_else(users::generate_password);
            let name = name.unwrap_or_else(|| {
                email
                    .split_once('@')
                    .map_or(email.as_str(), |(local, _)| local)
                    .to_owned()
            });
            let user = add_user(&store, &email, &name, &password, &groups, Utc::now())
                .await
                .map_err(|error| format!("cannot add {email}: {error}"))?;
            println!(
                "added {} (sub {}), groups: {}",
                user.email,
                user.sub,
                user.group_names().join(" ")
            );
            if generated {
                println!("password: {password}");
            }
        }
        UsersCommand::Promote { email } => {
            let user = store
                .find_by_email(&email)
                .await?
                .ok_or_else(|| format!("no user with email {email}"))?;
            store.add_to_group(&user.sub, Group::Organizer).await?;
            println!(
                "{} is an organizer; their next token (sign in again or refresh) carries it",
                user.email
            );
        }
        UsersCommand::List => {
            let users = store.list().await?;
            if users.is_empty() {
                println!("no users");
            }
            for user in users {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    user.email,
                    user.name,
                    user.group_names().join(","),
                    user.sub,
                    user.created_at.format("%Y-%m-%d %H:%M:%SZ")
                );
            }
        }
    }
    Ok(())
}
