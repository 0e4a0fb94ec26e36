"""Station services: plain Python over the store, tokens and device protocols (never Kivy, paho or cv2)."""
