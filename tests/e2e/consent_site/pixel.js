// Loaded by the CMP only after marketing consent.
firePixel("PageView");
