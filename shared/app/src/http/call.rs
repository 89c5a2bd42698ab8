//! What the handler of a guarded route starts from: the context and the caller, the caller's
//! role checked again (defence in depth: the route group's [`Guard`](super::auth::Guard) has
//! answered 403 before the path or body is read).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use connector_domain::Actor;

use super::auth::Caller;
use super::problem::Problem;
use crate::Context;

/// A call to a route of role `R`: the context and the caller, who has the role (403 for
/// anyone else).
pub(crate) struct Call<R> {
    /// The context.
    pub(crate) ctx: Arc<Context>,
    /// The caller.
    pub(crate) actor: Actor,
    role: PhantomData<R>,
}

/// A call to an administrators' route.
pub(crate) type AdminCall = Call<Admin>;

/// A call to a clinic route (staff or administrators).
pub(crate) type StaffCall = Call<ClinicUser>;

/// Who may call a group of routes.
pub(crate) trait Role {
    /// The caller, if they have the role; else 403.
    fn check(caller: &Caller) -> Result<&Actor, Problem>;
}

/// Administrators.
pub(crate) struct Admin;

impl Role for Admin {
    fn check(caller: &Caller) -> Result<&Actor, Problem> {
        caller.require_admin()
    }
}

/// Clinic staff and administrators.
pub(crate) struct ClinicUser;

impl Role for ClinicUser {
    fn check(caller: &Caller) -> Result<&Actor, Problem> {
        caller.require_clinic_user()
    }
}

impl<R: Role> FromRequestParts<Arc<Context>> for Call<R> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Context>) -> Result<Self, Problem> {
        let caller = Caller::from_request_parts(parts, ctx).await?;
        Ok(Self {
            ctx: Arc::clone(ctx),
            actor: R::check(&caller)?.clone(),
            role: PhantomData,
        })
    }
}
