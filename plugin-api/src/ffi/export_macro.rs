//! `export_plugin!`: the symbols a plugin library exports: the metadata record (read
//! without running the plugin), the handshake and the root module. It lives here
//! because it emits `#[unsafe(no_mangle)]` items.

/// Exports a [`Plugin`](crate::Plugin) from a `cdylib`: its metadata record, the handshake
/// symbol and the root module.
///
/// ```ignore
/// agent_plugin_api::export_plugin!(MyBackend);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        $crate::export_plugin!(@api_version $crate::__private::API_VERSION_C, $plugin);
    };
    // Test fixtures only: claim another api version in the handshake.
    (@api_version $api_version:expr, $plugin:ty) => {
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        #[unsafe(no_mangle)]
        pub static agent_plugin_metadata_record: [u8; $crate::__private::record_len::<$plugin>(
            $api_version,
        )] = $crate::__private::record::<
            $plugin,
            { $crate::__private::record_len::<$plugin>($api_version) },
        >($api_version);

        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        #[unsafe(no_mangle)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::__private::LibHeader =
            $crate::__private::lib_header($crate::__private::root_module_loader::<$plugin>);

        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub extern "C" fn agent_plugin_api_version() -> *const ::std::ffi::c_char {
            let version: &'static ::std::ffi::CStr = $api_version;
            version.as_ptr()
        }
    };
}
