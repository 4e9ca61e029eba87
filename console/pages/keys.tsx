export function KeysPage() {

  return <section><h1>Not built yet</h1></section>;
}
