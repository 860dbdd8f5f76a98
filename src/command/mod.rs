//! Typed TPM commands. Each command is one declaration (see [`crate::tpm_command!`]): its code, which
//! handles it takes and how many of them need authorization, its parameters, and its
//! response. Nothing here knows about sessions or transports; the client applies sessions
//! generically to the marshalled frame.

mod defs;

pub use defs::*;

use alloc::vec::Vec;

use crate::wire::{CommandCode, Handle, Marshal, Name, Reader, Unmarshal, WireError, Writer};

/// A handle together with its name, which goes into every cpHash. For permanent handles,
/// sessions and PCRs the name is the handle itself; objects and NV indices have a digest name
/// that the caller must know (or read from the TPM and verify).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    pub handle: Handle,
    pub name: Name,
}

impl Entity {
    /// An entity whose name is its handle (hierarchies, TPM_RH_NULL, sessions, PCRs).
    pub fn from_handle(handle: Handle) -> Self {
        Entity {
            handle,
            // Cannot fail: 4 bytes fit in a name.
            name: Name::new(&handle.0.to_be_bytes()).unwrap_or_default(),
        }
    }

    pub fn new(handle: Handle, name: Name) -> Self {
        Entity { handle, name }
    }

    pub fn owner() -> Self {
        Self::from_handle(Handle::RH_OWNER)
    }

    pub fn null() -> Self {
        Self::from_handle(Handle::RH_NULL)
    }

    pub fn endorsement() -> Self {
        Self::from_handle(Handle::RH_ENDORSEMENT)
    }

    pub fn platform() -> Self {
        Self::from_handle(Handle::RH_PLATFORM)
    }

    pub fn lockout() -> Self {
        Self::from_handle(Handle::RH_LOCKOUT)
    }
}

/// The handles of one command, in handle-area order (at most three).
pub struct Handles<'a> {
    list: [Option<&'a Entity>; 3],
}

impl<'a> Handles<'a> {
    pub fn new(handles: &[&'a Entity]) -> Self {
        let mut list = [None; 3];
        for (slot, h) in list.iter_mut().zip(handles) {
            *slot = Some(*h);
        }
        Handles { list }
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a Entity> + '_ {
        self.list.iter().flatten().copied()
    }

    pub fn len(&self) -> usize {
        self.list.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A TPM command: what the client needs to marshal it and to apply sessions by position.
pub trait Command {
    const CODE: CommandCode;
    /// How many leading handles need an authorization (a password or a session).
    const AUTH_HANDLES: usize;
    /// The first parameter is a TPM2B, so a session may encrypt it.
    const DECRYPT: bool;
    type Response: Response;

    fn handles(&self) -> Handles<'_>;
    fn marshal_params(&self, w: &mut Writer<'_>);
}

/// A command's response.
pub trait Response: Sized {
    /// Handles returned in the response handle area.
    const HANDLES: usize;
    /// The first parameter is a TPM2B, so a session may encrypt it.
    const ENCRYPT: bool;

    fn unmarshal(handles: &mut Reader<'_>, params: &mut Reader<'_>) -> Result<Self, WireError>;
}

#[doc(hidden)]
#[macro_export]
macro_rules! __count {
    () => { 0usize };
    ($head:tt $($tail:tt)*) => { 1usize + $crate::__count!($($tail)*) };
}

/// Declares a command and its response. Example:
///
/// ```
/// use tpm2_wire::tpm_command;
/// use tpm2_wire::wire::MaxNvBuffer;
///
/// tpm_command! {
///     /// TPM2_NV_Read
///     NvRead = NV_READ {
///         auth_handles: [auth_handle],
///         handles: [nv_index],
///         params: { size: u16, offset: u16 },
///         decrypt: false,
///     }
///     NvReadResponse {
///         handles: [],
///         params: { data: MaxNvBuffer },
///         encrypt: true,
///     }
/// }
/// ```
#[macro_export]
macro_rules! tpm_command {
    (
        $(#[$doc:meta])*
        $name:ident = $cc:ident {
            auth_handles: [$($ah:ident),* $(,)?],
            handles: [$($h:ident),* $(,)?],
            params: { $($p:ident : $pt:ty),* $(,)? },
            decrypt: $dec:literal $(,)?
        }
        $(#[$rdoc:meta])*
        $resp:ident {
            handles: [$($rh:ident),* $(,)?],
            params: { $($rp:ident : $rpt:ty),* $(,)? },
            encrypt: $enc:literal $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            $(pub $ah: $crate::command::Entity,)*
            $(pub $h: $crate::command::Entity,)*
            $(pub $p: $pt,)*
        }

        $(#[$rdoc])*
        #[derive(Clone, Debug)]
        pub struct $resp {
            $(pub $rh: $crate::wire::Handle,)*
            $(pub $rp: $rpt,)*
        }

        impl $crate::command::Command for $name {
            const CODE: $crate::wire::CommandCode = $crate::wire::CommandCode::$cc;
            const AUTH_HANDLES: usize = $crate::__count!($($ah)*);
            const DECRYPT: bool = $dec;
            type Response = $resp;

            fn handles(&self) -> $crate::command::Handles<'_> {
                $crate::command::Handles::new(&[$(&self.$ah,)* $(&self.$h,)*])
            }

            #[allow(unused_variables)]
            fn marshal_params(&self, w: &mut $crate::wire::Writer<'_>) {
                $($crate::wire::Marshal::marshal(&self.$p, w);)*
            }
        }

        impl $crate::command::Response for $resp {
            const HANDLES: usize = $crate::__count!($($rh)*);
            const ENCRYPT: bool = $enc;

            #[allow(unused_variables)]
            fn unmarshal(
                handles: &mut $crate::wire::Reader<'_>,
                params: &mut $crate::wire::Reader<'_>,
            ) -> Result<Self, $crate::wire::WireError> {
                Ok($resp {
                    $($rh: <$crate::wire::Handle as $crate::wire::Unmarshal>::unmarshal(handles)?,)*
                    $($rp: <$rpt as $crate::wire::Unmarshal>::unmarshal(params)?,)*
                })
            }
        }
    };
}

/// A response with nothing in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Empty;

impl Response for Empty {
    const HANDLES: usize = 0;
    const ENCRYPT: bool = false;

    fn unmarshal(_: &mut Reader<'_>, _: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Empty)
    }
}

/// Writes a command's parameters; used by the client and by tests that build frames by hand.
pub fn marshal_params<C: Command>(cmd: &C, out: &mut Vec<u8>) {
    cmd.marshal_params(&mut Writer::new(out))
}

impl Marshal for Entity {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.handle.marshal(w)
    }
}

impl Unmarshal for Entity {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Entity::from_handle(Handle::unmarshal(r)?))
    }
}
