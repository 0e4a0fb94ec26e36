"""Device drivers: printer, scanner, locker. Drivers never import kiosk."""
