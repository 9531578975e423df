// Entry of dist/server.js, the bundle VS Code's client launches over IPC: start the server, nothing else.
import { runLanguageServer } from './main';

runLanguageServer();
