#!/usr/bin/env node
// placeholder: the CLI helper replaces this
console.error('linkplane: not built yet');
process.exit(1);
