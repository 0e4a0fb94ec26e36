"""The station's Kivy touch UI: screens over the services (docs/architecture.md, "Screens"); `app.run_ui` is the entry point."""
