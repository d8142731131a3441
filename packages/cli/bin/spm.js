#!/usr/bin/env node
// The `spm` command: the compiled CLI in dist/ (this file exists before the build, so package managers
// can link the command at install time).
import '../dist/main.js';
