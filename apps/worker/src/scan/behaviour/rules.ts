import type { Severity } from '../types.js';

/**
 * Every behaviour rule, with its severity when the code only runs when the package is used
 * (`runtime`) and when it is reachable from an install script (`install`: it runs on every machine
 * that installs the package, before anybody has called it). High and critical mean "an approver
 * should not wave this through"; medium and below are facts for the approver to weigh. Why each
 * severity was chosen is in docs/malware-detection.md.
 */
export const RULES = {
  'secret-exfiltration': {
    title: 'Sends secrets or credentials to a fixed address',
    runtime: 'critical',
    install: 'critical',
    why: 'Data read from a credential store (.npmrc, SSH keys, cloud credentials, browser or wallet stores, secret environment variables, the cloud metadata endpoint) reaches a network call whose address is written in the package.',
  },
  'secret-network': {
    title: 'Reads secrets and sends them to an address computed at run time',
    runtime: 'medium',
    install: 'medium',
    why: 'Credentials reach a network call whose address comes from configuration (a registry client sending its token to the configured registry does this). Check where the address comes from.',
  },
  'env-exfiltration': {
    title: 'Sends the whole environment over the network',
    runtime: 'critical',
    install: 'critical',
    why: 'Every environment variable (tokens, keys, passwords of CI and developer machines) is serialised and sent out. No legitimate library needs all of them.',
  },
  'env-serialised': {
    title: 'Serialises the whole environment',
    runtime: 'medium',
    install: 'medium',
    why: 'All environment variables are turned into one value (debug dumps do this); it was not seen reaching the network.',
  },
  'host-beacon': {
    title: 'Sends who and where it runs (host name, user, folder) to a fixed address',
    runtime: 'high',
    install: 'critical',
    why: 'The machine is identified to a server written in the package: the first step of dependency-confusion probes and of targeted droppers.',
  },
  'dns-exfiltration': {
    title: 'Leaks data through DNS queries',
    runtime: 'critical',
    install: 'critical',
    why: 'Data from the machine is encoded into the names it looks up, a channel that passes most firewalls.',
  },
  'hidden-destination': {
    title: 'Connects to an address it decodes at run time',
    runtime: 'high',
    install: 'critical',
    why: 'The address is stored base64- or hex-encoded so a reader cannot see where the package connects (node-ipc hid its geolocation lookup this way).',
  },
  'exfiltration-channel': {
    title: 'Talks to a channel used for exfiltration (messaging webhook, paste site, request catcher)',
    runtime: 'high',
    install: 'critical',
    why: 'Discord or Slack webhooks, Telegram bots, paste sites and request catchers are where stolen data is sent; a library has no reason to post to one written into its code.',
  },
  'decode-exec': {
    title: 'Decodes hidden data and runs it as code or as a command',
    runtime: 'critical',
    install: 'critical',
    why: 'A base64, hex, char-code, encrypted or invisible payload is decoded and handed to eval, Function, vm, module compilation or child_process: the code that runs cannot be read in the package.',
  },
  'download-exec': {
    title: 'Downloads code or a program and runs it',
    runtime: 'critical',
    install: 'critical',
    why: 'What runs is fetched from a server at run time: it was never reviewed and can change at any moment without a new version.',
  },
  'loads-code': {
    title: 'Runs code fetched from an address chosen at run time (a module loader)',
    runtime: 'medium',
    install: 'high',
    why: 'fetch or XHR answers reach eval or Function, but the file names no server: the address comes from the caller or configuration, as in AMD module loaders (monaco-editor). Check where the loader is pointed.',
  },
  'shell-download': {
    title: 'Runs a shell command that downloads from the network',
    runtime: 'high',
    install: 'critical',
    why: 'A command line with curl, wget, certutil or similar fetches files outside npm; what is fetched was never reviewed.',
  },
  'hidden-command': {
    title: 'Runs an encoded or system-proxy command (encoded PowerShell, regsvr32, rundll32, mshta)',
    runtime: 'high',
    install: 'critical',
    why: 'Encoded PowerShell hides the command; regsvr32, rundll32 and mshta load DLLs or scripts through trusted Windows binaries, the way the coa/rc and ua-parser-js payloads ran.',
  },
  'silent-spawn': {
    title: 'Starts a detached, silent shell',
    runtime: 'high',
    install: 'critical',
    why: 'A shell or interpreter is started detached with its output discarded, so it outlives the process and nobody sees what it does.',
  },
  'detached-process': {
    title: 'Starts a detached process with its output discarded',
    runtime: 'medium',
    install: 'medium',
    why: 'Update checkers and "open in browser" helpers do this; so do droppers. Check which program is started.',
  },
  'reverse-shell': {
    title: 'Connects a shell to a network socket (reverse shell)',
    runtime: 'critical',
    install: 'critical',
    why: 'Whoever is at the other end of the connection can run any command on the machine.',
  },
  'hidden-require': {
    title: 'Loads a module whose name is hidden',
    runtime: 'high',
    install: 'critical',
    why: 'The module name is decoded or looked up from an obfuscated table, so a reader cannot see what is loaded (child_process, http …).',
  },
  'dynamic-code': {
    title: 'Evaluates code built at run time',
    runtime: 'low',
    install: 'medium',
    why: 'eval, Function or vm runs a string assembled at run time (template engines and config loaders do this); it was not seen coming from decoded or downloaded data.',
  },
  obfuscated: {
    title: 'Obfuscated code (javascript-obfuscator patterns)',
    runtime: 'high',
    install: 'critical',
    why: 'A rotated string array, hex-named identifiers and index-lookup functions are the output of javascript-obfuscator: the code is made unreadable on purpose, which minifiers do not do.',
  },
  'invisible-characters': {
    title: 'Invisible characters hide data or code',
    runtime: 'high',
    install: 'critical',
    why: 'Runs of zero-width, variation-selector or other invisible characters carry data an editor does not show (the os-info-checker-es6 and GlassWorm loaders did this).',
  },
  'bidi-control': {
    title: 'Bidirectional control characters change how the code reads (Trojan Source)',
    runtime: 'high',
    install: 'critical',
    why: 'An override or isolate left open reorders the text so the code shown to a reviewer is not the code that runs (CVE-2021-42574).',
  },
  'whitespace-hidden-code': {
    title: 'Code hidden past a long run of whitespace',
    runtime: 'high',
    install: 'critical',
    why: 'Code pushed hundreds of columns to the right is off screen in editors and diffs.',
  },
  'binary-hijack': {
    title: 'Plants a DLL or executable where another program will load it',
    runtime: 'critical',
    install: 'critical',
    why: "Writing a DLL into another application's folder (side-loading) or a program into a PATH directory makes other software run the package's code.",
  },
  persistence: {
    title: 'Writes to a start-up location (shell profile, autostart, scheduled task)',
    runtime: 'high',
    install: 'critical',
    why: 'Code written there runs again every time the user logs in or opens a shell.',
  },
  'self-propagation': {
    title: "Injects itself into other packages and publishes them with the victim's token",
    runtime: 'critical',
    install: 'critical',
    why: 'Adding an install script to a package and publishing it is how worms such as Shai-Hulud spread through every package a developer maintains.',
  },
  'install-script-injection': {
    title: 'Adds an install script to a package.json',
    runtime: 'high',
    install: 'critical',
    why: 'Writing preinstall/install/postinstall into a package makes that package run code on every machine that installs it.',
  },
  publish: {
    title: 'Publishes packages (npm publish)',
    runtime: 'medium',
    install: 'medium',
    why: 'Release tools do this when asked to; check that nothing else here handles tokens or other packages.',
  },
  'modifies-other-package': {
    title: 'Changes the code of another installed package',
    runtime: 'critical',
    install: 'critical',
    why: 'Code is written into a file of another package under node_modules, so it survives removing this one (ethers-provider2 did this).',
  },
  'writes-node-modules': {
    title: 'Writes files inside node_modules',
    runtime: 'medium',
    install: 'medium',
    why: 'Patch tools (patch-package) change installed dependencies on purpose; check what is written.',
  },
  'network-hook': {
    title: 'Replaces fetch, XMLHttpRequest or a wallet provider',
    runtime: 'medium',
    install: 'high',
    why: 'Instrumentation and polyfills wrap these; so do wallet drainers. Check what the replacement does.',
  },
  'wallet-drainer': {
    title: 'Rewrites crypto-wallet addresses or transactions in the browser',
    runtime: 'critical',
    install: 'critical',
    why: 'Network responses or wallet requests are intercepted and addresses swapped for the attacker’s, as in the 2025 chalk/debug compromise.',
  },
  'cloud-metadata': {
    title: 'Reads the cloud instance metadata endpoint',
    runtime: 'medium',
    install: 'medium',
    why: 'The metadata endpoint hands out the machine’s cloud credentials; cloud SDKs read it, other packages should not.',
  },
  'hardcoded-ip': {
    title: 'Connects to a hard-coded public IP address',
    runtime: 'medium',
    install: 'high',
    why: 'Legitimate services are reached by name; a bare address is typical of command-and-control servers.',
  },
  'dependency-confusion': {
    title: 'Looks like a dependency-confusion package',
    runtime: 'high',
    install: 'critical',
    why: 'An internal-looking name at a very high version wins over a company’s private package of the same name in misconfigured installs.',
  },
  'very-high-version': {
    title: 'Very high version number',
    runtime: 'low',
    install: 'low',
    why: 'Versions like 99.x are used to win version resolution over an internal package of the same name.',
  },
} as const satisfies Record<string, { title: string; runtime: Severity; install: Severity; why: string }>;

export type RuleId = keyof typeof RULES;
