//! Auditrail's shared vocabulary: the event model, filters, cursors and pages, used alike by the
//! REST API, the server functions, the page URL and the CLI. Compiles for the server and for
//! `wasm32-unknown-unknown`; nothing here touches a database or the network.

mod access;
mod cursor;
mod delivery;
mod event;
mod export;
mod filter;
mod message;
mod names;
mod page;
mod validate;
pub mod views;

pub use access::{
    AccessError, Account, ApiKey, Narrowed, Permission, Projects, ReadScope, Role, Scope,
    TRAIL_PROJECT, User,
};
pub use cursor::Cursor;
pub use delivery::{Delivery, DeliveryRun, RunStatus};
pub use event::{Actor, ActorType, Event, EventDraft, Flag, NewEvent, Outcome, Target};
pub use export::{ExportFormat, ExportJob, JobKind, JobStatus, Manifest};
#[cfg(feature = "tz")]
pub use filter::TimeWindow;
pub use filter::{Filter, FilterError, RangePreset, SearchTerm, TimeBound, words};
pub use message::{MESSAGE_METADATA_MAX_BYTES, MessagePage, NewMessage, SystemMessage};
pub use names::{Action, Category, EventId, Identifier, Module, Project, source_address};
pub use page::{
    EventPage, FacetValue, Facets, Histogram, HistogramBucket, ListedEvent, Page, PageRequest,
    Trace,
};
pub use validate::{EventError, limits, timestamp_bounds};
pub use views::{DETAIL_KEYS, LogView, VIEWS};
