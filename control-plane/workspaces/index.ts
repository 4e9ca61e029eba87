export { createWorkspace, getWorkspace, listWorkspaces, toWorkspaceResource, type WorkspaceRow } from './workspace-store.js';
