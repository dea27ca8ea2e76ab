from watermark.cli import main

raise SystemExit(main())
