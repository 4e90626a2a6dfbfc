//! The init process of a Machine (see `hangar_driver_process::machine_init_main`).

fn main() {
    hangar_driver_process::machine_init_main(std::env::args_os().skip(1).collect())
}
