export function JobsPage() {

  return <section><h1>Not built yet</h1></section>;
}
