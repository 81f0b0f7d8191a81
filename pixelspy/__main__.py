from pixelspy.cli import main

raise SystemExit(main())
