"""The station's Kivy touch UI: screens over the services (DESIGN §8); `app.run_ui` is the entry point."""
