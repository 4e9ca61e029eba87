/** The API key lives in this tab's session storage only: closing the tab or signing out forgets it. */
const SLOT = 'linkplane.key';

export const session = {
  key: (): string | null => sessionStorage.getItem(SLOT),
  signIn: (key: string) => sessionStorage.setItem(SLOT, key),
  signOut: () => sessionStorage.removeItem(SLOT),
};
