//! The host side of what every actor gets: `r1:actor` (mailbox, logging). The interfaces a
//! grant unlocks live with their capability in [`crate::capability`].

pub mod actor;
