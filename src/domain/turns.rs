//! One client change at a time per user on this instance. PostgreSQL's row lock on the user is
//! what makes changes safe across instances; this only keeps a user's concurrent requests from all
//! waiting on that lock at once, where each commit wakes every waiter to race for it again (a
//! burst of 16 creations spent half its CPU in the kernel doing that).
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{Mutex as Turn, OwnedMutexGuard};

#[derive(Default)]
pub struct Turns(Mutex<HashMap<i64, Weak<Turn<()>>>>);

impl Turns {
    /// Waits for the user's turn; it lasts as long as the guard.
    pub async fn take(&self, user_id: i64) -> OwnedMutexGuard<()> {
        let turn = {
            let mut turns = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if turns.len() > 4096 {
                turns.retain(|_, turn| turn.strong_count() > 0);
            }
            match turns.get(&user_id).and_then(Weak::upgrade) {
                Some(turn) => turn,
                None => {
                    let turn = Arc::new(Turn::new(()));
                    turns.insert(user_id, Arc::downgrade(&turn));
                    turn
                }
            }
        };
        turn.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_turn_per_user_at_a_time() {
        let turns = Turns::default();
        let first = turns.take(1).await;
        let other = tokio::time::timeout(std::time::Duration::from_millis(50), turns.take(2)).await;
        assert!(other.is_ok(), "another user is not kept waiting");
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), turns.take(1)).await;
        assert!(waiting.is_err(), "the same user waits");
        drop(first);
        let again = tokio::time::timeout(std::time::Duration::from_millis(50), turns.take(1)).await;
        assert!(again.is_ok(), "and gets the turn once it is free");
    }
}
