from pixelspy.console import main

raise SystemExit(main())
