import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import { ListPage } from './ListPage.tsx';
import { MediaPage } from './MediaPage.tsx';
import { useHashRoute } from './hooks.ts';
import './styles.css';

function App() {
  const { path, params } = useHashRoute();
  const mediaId = /^\/medias\/([^/]+)\/?$/.exec(path)?.[1];
  useEffect(() => {
    if (!mediaId) document.title = 'Gilfoyle admin';
    window.scrollTo(0, 0);
  }, [path]);

  return (
    <>
      <header class="topbar">
        <a href="#/" class="brand">
          <span class="logo" aria-hidden="true">
            ▶
          </span>{' '}
          Gilfoyle <span class="muted">admin</span>
        </a>
        <nav>
          <a href="#/">Medias</a>
          <a href="/openapi.json" target="_blank" rel="noopener">
            OpenAPI
          </a>
        </nav>
      </header>
      <main class="container">
        {mediaId ? (
          <MediaPage key={mediaId} id={decodeURIComponent(mediaId)} />
        ) : path === '/' ? (
          <ListPage params={params} />
        ) : (
          <div class="card">
            <h2>Not found</h2>
            <p>
              Nothing at <code>#{path}</code>. <a href="#/">Back to the medias</a>
            </p>
          </div>
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
