//! A fresh install has no users; the first start creates an admin with a random password and
//! prints it once, so the run command is all it takes to sign in.

use auditrail_access::admin::{AdminError, Changer};
use auditrail_access::password;
use auditrail_model::Projects;
use auditrail_storage::{StorageError, Store};

/// Creates the admin when the database has no users; returns the password when it did.
/// Several servers starting on one empty database race harmlessly: the email is unique, so
/// one wins and the others find a user there.
pub async fn ensure(store: &Store, email: &str) -> Result<Option<String>, AdminError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let changer = Changer::system(store);
    let password = password::generate();
    match changer.create_user(email, "admin", Projects::All, &password).await {
        Ok(_) => Ok(Some(password)),
        Err(AdminError::Storage(StorageError::Conflict(_))) => Ok(None),
        Err(e) => Err(e),
    }
}
