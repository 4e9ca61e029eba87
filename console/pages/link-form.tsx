export function LinkFormPage({ id }: { id: string | null }) {
  void id;
  return <section><h1>Not built yet</h1></section>;
}
