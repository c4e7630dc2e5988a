//! What an idle subscription keeps in memory: a progress stream waiting for its next event
//! holds its own state, not the state of the table read it makes on a gap. The read is
//! boxed while it runs; inline, it sized every waiting stream (issue #20's memory per idle
//! WebSocket).

use platform_api::domain::ids::{MemberId, TenantId};
use platform_api::events::feed::{MemberFeed, ProvisioningFeed};
use platform_api::events::progress::Progress;
use uuid::Uuid;

use crate::support::World;

/// A waiting stream's state: the pool, the key, the feed's receiver, the queue and a few
/// flags, with room to spare. Inline, the re-read made it several KiB.
const MOST_BYTES: usize = 512;

#[tokio::test]
async fn a_waiting_progress_stream_holds_its_state_not_its_table_read() {
    let api = World::new().spawn().await;
    let pool = api.state.pool.clone();

    let feed = api.state.schema.data::<ProvisioningFeed>().expect("feed");
    let tenant = TenantId::from(Uuid::new_v4());
    let stream = Progress::stream(pool.clone(), feed, tenant, 0)
        .await
        .expect("a provisioning stream");
    let size = std::mem::size_of_val(&stream);
    assert!(size <= MOST_BYTES, "a provisioning stream is {size} bytes");

    let feed = api.state.schema.data::<MemberFeed>().expect("feed");
    let member = MemberId::from(Uuid::new_v4());
    let stream = Progress::stream(pool, feed, member, 0)
        .await
        .expect("a member stream");
    let size = std::mem::size_of_val(&stream);
    assert!(size <= MOST_BYTES, "a member stream is {size} bytes");
}
